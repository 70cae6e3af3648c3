// Exactness of the loaded encoders against the oracle, tiktoken (WASM): every valid-UTF-8 vocabulary entry, a set
// of known-tricky strings, and a few thousand seeded random strings mixing prose, code, Unicode, emoji, whitespace
// runs, contractions and special-token look-alikes (which must count as plain text).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { loadEncoders, tokenizerFor, type TextTokenizer } from './backend.js';
import type { LoadedEncoding } from './encodings.js';
import { randomText, TRICKY_STRINGS } from './testing/random-text.js';

const ENCODINGS: readonly LoadedEncoding[] = ['o200k_base', 'cl100k_base'];
const oracles = new Map<LoadedEncoding, Tiktoken>();

before(async () => {
  await loadEncoders();
  for (const encoding of ENCODINGS) oracles.set(encoding, get_encoding(encoding));
});

function pair(encoding: LoadedEncoding): { ours: TextTokenizer; oracle: (text: string) => number } {
  const oracle = oracles.get(encoding);
  assert.ok(oracle);
  return { ours: tokenizerFor(encoding), oracle: (text) => oracle.encode_ordinary(text).length };
}

for (const encoding of ENCODINGS) {
  test(`${encoding}: known-tricky strings count as tiktoken counts them`, () => {
    const { ours, oracle } = pair(encoding);
    for (const text of TRICKY_STRINGS) assert.equal(ours.count(text), oracle(text), JSON.stringify(text));
  });

  test(`${encoding}: 4000 seeded random strings count as tiktoken counts them`, () => {
    const { ours, oracle } = pair(encoding);
    for (let seed = 1; seed <= 4000; seed++) {
      const text = randomText(seed, { divergentWhitespace: true });
      assert.equal(ours.count(text), oracle(text), `seed ${seed}: ${JSON.stringify(text)}`);
    }
  });

  test(`${encoding}: every valid-UTF-8 vocabulary entry counts as tiktoken counts it`, () => {
    const { ours, oracle } = pair(encoding);
    const wasm = oracles.get(encoding);
    assert.ok(wasm);
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const size = encoding === 'o200k_base' ? 199_998 : 100_256;
    let checked = 0;
    for (let rank = 0; rank < size; rank++) {
      let text: string;
      try {
        text = strict.decode(wasm.decode_single_token_bytes(rank));
      } catch {
        continue; // a partial UTF-8 sequence, or an unused rank
      }
      checked++;
      const expected = oracle(text);
      if (ours.count(text) !== expected)
        assert.fail(`rank ${rank} ${JSON.stringify(text)}: ours ${ours.count(text)}, tiktoken ${expected}`);
    }
    assert.ok(checked > size * 0.9, `checked ${checked}`);
  });

  // Where Node's Unicode tables and tiktoken's differ (see unicode.ts), letters/marks/numbers are the only classes
  // that matter; each is tried in contexts that split differently when its class differs. Every 7th such code point
  // by default (new scripts come in blocks, so a Node upgrade with newer Unicode shows up); TOKENS_EXHAUSTIVE=1 checks
  // all ~150 000 (about 40 s).
  const stride = process.env.TOKENS_EXHAUSTIVE === '1' ? 1 : 7;
  test(`${encoding}: letter, mark and number code points (1 in ${stride}) count as tiktoken counts them`, () => {
    const { ours, oracle } = pair(encoding);
    const lmn = /[\p{L}\p{M}\p{N}]/u;
    let checked = 0;
    let seen = 0;
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp === 0xd800) cp = 0xe000;
      const ch = String.fromCodePoint(cp);
      if (!lmn.test(ch) || seen++ % stride !== 0) continue;
      checked++;
      for (const text of [`${ch}'s`, `${ch}'x`, `a${ch}a`, `1${ch}2`, `A${ch}b`]) {
        const expected = oracle(text);
        if (ours.count(text) !== expected)
          assert.fail(
            `U+${cp.toString(16)} in ${JSON.stringify(text)}: ours ${ours.count(text)}, tiktoken ${expected}`,
          );
      }
    }
    assert.ok(checked > 140_000 / stride, `checked ${checked}`);
  });
}
