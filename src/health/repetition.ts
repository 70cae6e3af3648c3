// Degenerate-repetition score of a completion, cheap enough for every response (bench/health-checks.ts).
//
//   ngram    = 1 − distinct(word 3-grams) / total(word 3-grams)          (0: all distinct, → 1: one phrase looped)
//   loop     = characters at the end of the text covered by a period p ≤ 256 repeated at least 3 times, over the
//              text's length (the classic "model stuck in a loop until max_tokens" tail)
//   compress = clamp((0.30 − deflateRatio) / 0.25, 0, 1), deflateRatio = deflate-raw level 1 bytes / UTF-8 bytes of
//              the last 4 KB; computed only when max(ngram, loop) ≥ 0.3 (else 0), which keeps deflate off the
//              typical path
//              (prose ≈ 0.4–0.6, code ≈ 0.3–0.45, a looped phrase < 0.05)
//   raw      = max(ngram, loop, compress)
//   score    = raw × (1 − 0.5 × structured), structured = fraction of non-empty lines that look like code or tables
//              (inside ``` fences, starting with '|', indented ≥ 4 spaces / a tab, or ≥ 30 % punctuation)
//
// Texts shorter than minChars score 0: too little signal, and short answers legitimately repeat ("yes yes").
import { deflateRawSync, constants } from 'node:zlib';

export interface RepetitionScore {
  readonly score: number;
  readonly ngram: number;
  readonly loop: number;
  readonly compress: number;
  readonly structured: number;
}

const ZERO: RepetitionScore = { score: 0, ngram: 0, loop: 0, compress: 0, structured: 0 };
const MAX_PERIOD = 256;
/** Scoring looks at most at this many trailing characters (degeneration shows at the end; bounds the cost). */
const MAX_SCORED_CHARS = 16_384;
const MAX_COMPRESS_CHARS = 4096;
/** compress is computed only when ngram or loop reaches this (ordinary prose stays far below). */
const COMPRESS_GATE = 0.3;

export function repetitionScore(text: string, minChars = 200): RepetitionScore {
  if (text.length < minChars) return ZERO;
  const sample = text.length > MAX_SCORED_CHARS ? text.slice(text.length - MAX_SCORED_CHARS) : text;
  const ngram = ngramRepetition(sample);
  const loop = tailLoopCoverage(sample);
  // Deflate is the costliest signal: only when a cheap one already looks suspicious.
  const compress = Math.max(ngram, loop) >= COMPRESS_GATE ? compressibility(sample) : 0;
  const structured = structuredFraction(sample);
  const raw = Math.max(ngram, loop, compress);
  return { score: raw * (1 - 0.5 * structured), ngram, loop, compress, structured };
}

/**
 * 1 − distinct/total over lower-cased word trigrams. Words are hashed (FNV-1a, ASCII case folded) while scanning,
 * and a trigram is a 32-bit mix of its three word hashes in an open-addressing Int32Array: no string is allocated.
 * A collision can only make two trigrams look alike (a slightly higher score), at ~n²/2^33 odds (1 KB: ~10⁻⁵).
 */
export function ngramRepetition(text: string): number {
  const hashes = new Int32Array((text.length >> 1) + 1);
  let count = 0;
  let h = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13) {
      if (inWord) hashes[count++] = h;
      h = 0x811c9dc5;
      inWord = false;
      continue;
    }
    if (c >= 65 && c <= 90) c += 32;
    h = Math.imul(h ^ c, 0x01000193);
    inWord = true;
  }
  if (inWord) hashes[count++] = h;
  if (count < 6) return 0;
  const total = count - 2;
  // Open addressing over a power-of-two Int32Array (load ≤ 0.5); 0 marks an empty slot.
  let size = 16;
  while (size < total * 2) size <<= 1;
  const table = new Int32Array(size);
  const mask = size - 1;
  let distinct = 0;
  for (let i = 0; i < total; i++) {
    const a = hashes[i] as number;
    const b = hashes[i + 1] as number;
    const c = hashes[i + 2] as number;
    let key =
      Math.imul(
        Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b) ^ Math.imul(c, 0xc2b2ae35) ^ (c >>> 15),
        0x27d4eb2f,
      ) | 1;
    key ^= key >>> 13;
    key |= 1; // never 0
    let slot = key & mask;
    for (;;) {
      const found = table[slot];
      if (found === 0) {
        table[slot] = key;
        distinct++;
        break;
      }
      if (found === key) break;
      slot = (slot + 1) & mask;
    }
  }
  return 1 - distinct / total;
}

/**
 * Longest suffix of the text that is periodic with some period p ≤ 256 (s[i] === s[i−p]), counted only when it
 * spans at least 3 periods, as a fraction of the text length.
 */
export function tailLoopCoverage(text: string): number {
  const n = text.length;
  if (n < 8) return 0;
  let best = 0;
  const last = text.charCodeAt(n - 1);
  const limit = Math.min(MAX_PERIOD, Math.floor(n / 3));
  for (let p = 1; p <= limit; p++) {
    if (text.charCodeAt(n - 1 - p) !== last) continue;
    let i = n - 1;
    while (i - p >= 0 && text.charCodeAt(i) === text.charCodeAt(i - p)) i--;
    const run = n - 1 - i + p; // the matched span plus the first period it was compared against
    if (run >= 3 * p && run > best) best = run;
  }
  return best / n;
}

export function compressibility(text: string): number {
  // The last MAX_COMPRESS_CHARS only: deflate is the costliest signal, and loops show at the end.
  const bytes = Buffer.from(
    text.length > MAX_COMPRESS_CHARS ? text.slice(text.length - MAX_COMPRESS_CHARS) : text,
    'utf8',
  );
  if (bytes.length < 64) return 0;
  const ratio = deflateRawSync(bytes, { level: constants.Z_BEST_SPEED }).length / bytes.length;
  return Math.min(1, Math.max(0, (0.3 - ratio) / 0.25));
}

export function structuredFraction(text: string): number {
  let lines = 0;
  let structured = 0;
  let fenced = false;
  let lineStart = 0;
  const n = text.length;
  for (let end = 0; end <= n; end++) {
    if (end < n && text.charCodeAt(end) !== 10) continue;
    // One line: [lineStart, end). Leading whitespace, first visible characters, punctuation count.
    let i = lineStart;
    let indent = 0;
    let tab = false;
    while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) {
      if (text.charCodeAt(i) === 9) tab = true;
      indent++;
      i++;
    }
    let last = end;
    while (last > i && (text.charCodeAt(last - 1) === 32 || text.charCodeAt(last - 1) === 13)) last--;
    const length = last - i;
    lineStart = end + 1;
    if (length === 0) continue;
    lines++;
    if (text.startsWith('```', i)) {
      fenced = !fenced;
      structured++;
      continue;
    }
    if (fenced || text.charCodeAt(i) === 124 /* | */ || tab || indent >= 4) {
      structured++;
      continue;
    }
    let punct = 0;
    for (let j = i; j < last; j++) {
      const c = text.charCodeAt(j);
      const plain = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 32 || c > 127;
      if (!plain) punct++;
    }
    if (punct / length >= 0.3) structured++;
  }
  return lines === 0 ? 0 : structured / lines;
}
