// The ASCII split patterns must cut all-ASCII text into exactly the pieces the full (Unicode) patterns cut it into:
// the count of a piece does not depend on which pattern found it, so equal pieces mean equal counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASCII_SPLIT_PATTERNS, SPLIT_PATTERNS } from './backend.js';

const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;

const pieces = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].map((m) => m[0]);

/** Deterministic pseudo-random numbers (a test that fails must fail again). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

// Runs of the classes the patterns tell apart, and the sequences they single out.
const FRAGMENTS = [
  "'s",
  "'T",
  "'re",
  "'VE",
  "'m",
  "'ll",
  "'D",
  "'x",
  'Hello',
  'WORLD',
  'camelCase',
  'x',
  'I',
  '1',
  '42',
  '12345',
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\v',
  '\f',
  '\n\n ',
  '/',
  '//',
  '::',
  '{',
  '});',
  '=>',
  '"',
  '`',
  '\\',
  '-',
  '_',
  '.',
  '?!',
  '\x00',
  '\x1b',
  '\x7f',
];

test('all-ASCII text: the ASCII patterns cut the same pieces as the full ones (every ASCII character, then random mixes)', () => {
  const every = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join('');
  const next = random(12);
  const texts = [every, every + every.split('').reverse().join('')];
  for (let i = 0; i < 2_000; i++) {
    let text = '';
    const parts = 1 + Math.floor(next() * 24);
    for (let j = 0; j < parts; j++) {
      text +=
        next() < 0.8 ? FRAGMENTS[Math.floor(next() * FRAGMENTS.length)] : String.fromCharCode(Math.floor(next() * 128));
    }
    texts.push(text);
  }
  texts.push(
    'export function chunk<T>(items: T[], size: number): T[][] {\n  return [];\n}\n',
    "It's 2024; we'll ship v1.2.3 -- don't WAIT!!\r\n\tDone.",
  );
  for (const encoding of ENCODINGS) {
    for (const text of texts)
      assert.deepEqual(
        pieces(text, ASCII_SPLIT_PATTERNS[encoding]),
        pieces(text, SPLIT_PATTERNS[encoding]),
        `${encoding}: ${JSON.stringify(text)}`,
      );
  }
});
