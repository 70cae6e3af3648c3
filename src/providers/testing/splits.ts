// Split invariance, the property every stream translator must have: Envoy hands it the upstream body in chunks
// with arbitrary boundaries, and the client must receive the same bytes and usage however the cuts fall. These
// helpers feed a translator a fixture cut at chosen offsets, at every single offset, at seeded random multi-cuts
// and byte by byte.
import assert from 'node:assert/strict';
import { mulberry32 } from '../../testing/random.js';
import type { Usage } from '../../unified/usage.js';
import type { StreamTranslator } from '../provider.js';

/** What the client receives from one translated stream. */
export interface Translated {
  readonly text: string;
  readonly usage: Usage | undefined;
  /** How many chunks push() let through untouched (it returned undefined; the client gets the chunk itself). */
  readonly passedThrough: number;
}

/** The output a split-invariance check compares: the text, and the usage where the run reports it. */
export interface Output {
  readonly text: string;
  readonly usage?: Usage | undefined;
}

export interface SplitOptions {
  /** How many random multi-cuts (seeds 1…rounds); 200 unless given. */
  readonly rounds?: number;
  /** Prefix for failure messages, e.g. the fixture's name. */
  readonly label?: string;
}

/** `bytes` cut at the given offsets (ascending). */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  return pieces;
}

/** Feeds `bytes` cut at `cuts` to the translator, then ends it; returns everything the client would receive. */
export function feed(translator: StreamTranslator, bytes: Buffer, cuts: readonly number[] = []): Translated {
  const out: Buffer[] = [];
  let passedThrough = 0;
  for (const piece of splitAt(bytes, cuts)) {
    const translated = translator.push(piece);
    if (translated === undefined) passedThrough++;
    out.push(translated ?? piece);
  }
  out.push(translator.end());
  return { text: Buffer.concat(out).toString('utf8'), usage: translator.usage, passedThrough };
}

/** 1 to 12 distinct cuts strictly inside `length` bytes, ascending; the same cuts for the same seed. */
export function randomCuts(length: number, seed: number): number[] {
  if (length < 2) return [];
  const random = mulberry32(seed);
  const count = 1 + Math.floor(random() * 12);
  return [...new Set(Array.from({ length: count }, () => 1 + Math.floor(random() * (length - 1))))].sort(
    (a, b) => a - b,
  );
}

/** A cut after every byte: the stream fed byte by byte. */
export function everyByte(length: number): number[] {
  return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
}

/** Cut once at every offset inside `length` bytes: the same text and usage as the whole stream. */
export function assertSameAtEverySingleCut(
  run: (cuts: readonly number[]) => Output,
  length: number,
  options: SplitOptions = {},
): void {
  const label = options.label ?? '';
  const whole = run([]);
  for (let cut = 1; cut < length; cut++) {
    const split = run([cut]);
    assert.equal(split.text, whole.text, `${label}cut at ${cut}`);
    assert.deepEqual(split.usage, whole.usage, `${label}usage, cut at ${cut}`);
  }
}

/** Seeded random multi-cuts, and byte-by-byte feeding: the same text as the whole stream. */
export function assertSameAtRandomCuts(
  run: (cuts: readonly number[]) => Output,
  length: number,
  options: SplitOptions = {},
): void {
  const label = options.label ?? '';
  const whole = run([]);
  for (let seed = 1; seed <= (options.rounds ?? 200); seed++) {
    const cuts = randomCuts(length, seed);
    assert.equal(run(cuts).text, whole.text, `${label}seed ${seed}, cuts ${cuts.join(',')}`);
  }
  assert.equal(run(everyByte(length)).text, whole.text, `${label}byte by byte`);
}

/** Both checks; returns the output of the whole (uncut) stream. */
export function assertSplitInvariant<T extends Output>(
  run: (cuts: readonly number[]) => T,
  length: number,
  options: SplitOptions = {},
): T {
  assertSameAtEverySingleCut(run, length, options);
  assertSameAtRandomCuts(run, length, options);
  return run([]);
}
