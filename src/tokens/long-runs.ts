// Bounding the cost of byte-pair encoding. BPE is quadratic in the length of one pre-token piece in every library
// we measured (tiktoken WASM included): 100 000 × "a" takes ~10 s, 1 MB of it would take ~15 min. A piece is
// (roughly) one run of letters, of punctuation/symbols or of whitespace, so text without a run of LONG_RUN_CHARS
// characters of one class has only short pieces and is counted exactly. Text with such a run (base64 "AAAA…",
// "=====" rulers, whitespace padding, a long Thai phrase) is split into segments: the long runs are cut into
// LONG_RUN_CHARS-sized chunks and every segment is counted on its own. Counts then differ from tiktoken's by about
// a token per cut, and the caller reports them as approximate.

/** Runs of at least this many UTF-16 code units of one class are cut. Natural prose never has one. */
export const LONG_RUN_CHARS = 128;

// Tier 1: a cheap, conservative ASCII scan. Classes: 0 letter, 1 digit (digits never form long pieces: \p{N}{1,3}),
// 2 whitespace, 3 other. Non-ASCII characters extend whatever run they are in, so tier 1 never misses a run that the
// exact scan (tier 2) would find; it may see runs that are not there (CJK text without ASCII), which tier 2 settles.
const DIGIT = 1;
const ASCII_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(128).fill(3);
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 0;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 0;
  for (let c = 0x30; c <= 0x39; c++) table[c] = DIGIT;
  for (const c of [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]) table[c] = 2;
  return table;
})();

function mayHaveLongRun(text: string, limit: number): boolean {
  if (text.length < limit) return false;
  let runClass = -1;
  let runLength = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const cls = code < 128 ? (ASCII_CLASS[code] ?? 3) : runClass;
    if (cls === DIGIT) {
      runClass = DIGIT;
      runLength = 0;
    } else if (cls === runClass) {
      if (++runLength >= limit) return true;
    } else {
      runClass = cls;
      runLength = 1;
    }
  }
  return false;
}

// Tier 2: maximal runs by Unicode class (letters and marks; not-space-letter-number; White_Space as tiktoken's \s).
const WS = '\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const RUNS = new RegExp(`[\\p{L}\\p{M}]+|[^${WS}\\p{L}\\p{N}]+|[${WS}]+`, 'gu');

/**
 * Segments to count separately when `text` has a run of `limit` or more characters of one class, or undefined when it
 * has none (the common case: count the text as one string, exactly). Linear time.
 */
export function splitLongRuns(text: string, limit: number = LONG_RUN_CHARS): string[] | undefined {
  if (!mayHaveLongRun(text, limit)) return undefined;
  let segments: string[] | undefined;
  let position = 0;
  for (const match of text.matchAll(RUNS)) {
    const run = match[0];
    if (run.length < limit) continue;
    segments ??= [];
    const start = match.index ?? 0;
    const end = start + run.length;
    if (start > position) segments.push(text.slice(position, start));
    let from = start;
    while (from < end) {
      let to = Math.min(from + limit, end);
      if (to < end && isLowSurrogate(text.charCodeAt(to))) to -= 1; // never cut a surrogate pair
      segments.push(text.slice(from, to));
      from = to;
    }
    position = end;
  }
  if (segments !== undefined && position < text.length) segments.push(text.slice(position));
  return segments;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
