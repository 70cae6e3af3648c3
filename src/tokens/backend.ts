// The text encoders: gpt-tokenizer (pure JS), chosen by measurement (docs/tokens.md, bench/tokens.ts) over tiktoken
// (WASM, the oracle) and js-tiktoken. Loaded once per process by loadEncoders() and reused; the synchronous
// counters throw TokenizerNotReadyError before that (no lazy load: loading parses ~3.5 MB of rank tables and takes
// ~200 ms, which must not land on some request's event-loop turn; /readyz waits for loadEncoders instead).
//
// Two exactness fixes, applied to the loaded instances and self-checked (if gpt-tokenizer's internals ever change
// shape, loading fails loudly instead of counting wrong). Both concern text containing U+FEFF (e.g. a pasted file
// that starts with a byte-order mark) or U+0085; src/tokens/exactness.test.ts compares every vocabulary entry and
// random text with tiktoken, libraries.test.ts shows the unpatched libraries' divergences.
// 1. gpt-tokenizer 4.0.0 looks merged byte sequences up through a TextDecoder that strips a leading BOM, so every
//    token whose bytes start with EF BB BF ("\uFEFF", "\uFEFFusing", "\uFEFF//", …; 9 in o200k_base, 8 in
//    cl100k_base) is unreachable. We route those keys to its byte-token table.
// 2. The split pattern. JavaScript's \s includes U+FEFF and excludes U+0085, tiktoken's Rust regex uses Unicode
//    White_Space, which is the other way round ("\uFEFF//" is one piece in tiktoken, two in JS; js-tiktoken has the
//    same problem); and Node's Unicode tables are a version ahead of tiktoken's. We give the library tiktoken's split
//    patterns with both differences removed (SPLIT_PATTERNS).
import type { LoadedEncoding } from './encodings.js';
import { UNICODE_17_LMN } from './unicode.js';

/** Counts ordinary text: special-token strings such as "<|endoftext|>" are plain text, as a prompt is. */
export interface TextTokenizer {
  readonly encoding: LoadedEncoding;
  count(text: string): number;
}

export class TokenizerNotReadyError extends Error {
  constructor() {
    super('token encoders are not loaded yet: await loadEncoders() (from src/tokens/counter.ts) before counting');
    this.name = 'TokenizerNotReadyError';
  }
}

/** gpt-tokenizer's merge cache (LRU of BPE results per pre-token piece). The library default is 100 000 entries;
 * pieces are at most a few hundred characters (long runs are split first, see long-runs.ts), so 20 000 entries
 * bound the cache to a few MB per encoding while keeping common multi-token words cached. */
export const MERGE_CACHE_ENTRIES = 20_000;

// Treat every special-token string as text: no allowed specials, and an empty disallowed set (the default, 'all',
// throws on "<|endoftext|>").
const ORDINARY = { disallowedSpecial: new Set<string>() };

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

interface GptEncodingApi {
  countTokens(input: string, options?: { disallowedSpecial?: Set<string> }): number;
  setMergeCacheSize(size: number): void;
}

// The shape of gpt-tokenizer 4.0.0's BytePairEncodingCore that the fixes rely on.
interface BpeCoreInternals {
  tokenSplitRegex: RegExp;
  getBpeRankFromBytes(key: Uint8Array): number | undefined;
  getBpeRankFromString(key: string): number | undefined;
  binarySearch(key: Uint8Array): number;
  bytePairNonUtfSortedEncoder: ReadonlyArray<readonly [Uint8Array, number]>;
}

let encoders: ReadonlyMap<LoadedEncoding, TextTokenizer> | undefined;
let loading: Promise<void> | undefined;

/** Loads o200k_base and cl100k_base once; concurrent and repeated calls share the same load. */
export function loadEncoders(): Promise<void> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined; // a failed load may be retried
    throw err;
  });
  return loading;
}

export function encodersLoaded(): boolean {
  return encoders !== undefined;
}

export function tokenizerFor(encoding: LoadedEncoding): TextTokenizer {
  const tokenizer = encoders?.get(encoding);
  if (tokenizer === undefined) throw new TokenizerNotReadyError();
  return tokenizer;
}

async function load(): Promise<void> {
  const [o200k, cl100k] = await Promise.all([
    import('gpt-tokenizer/encoding/o200k_base'),
    import('gpt-tokenizer/encoding/cl100k_base'),
  ]);
  encoders = new Map<LoadedEncoding, TextTokenizer>([
    ['o200k_base', prepare('o200k_base', o200k.default)],
    ['cl100k_base', prepare('cl100k_base', cl100k.default)],
  ]);
}

function prepare(encoding: LoadedEncoding, api: GptEncodingApi): TextTokenizer {
  api.setMergeCacheSize(MERGE_CACHE_ENTRIES);
  const core = internalsOf(encoding, api);
  const full = SPLIT_PATTERNS[encoding];
  const ascii = ASCII_SPLIT_PATTERNS[encoding];
  patchBomLookup(core);
  const tokenizer: TextTokenizer = {
    encoding,
    count: (text) => {
      // Counting is synchronous: the pattern set here is the one this call splits with.
      core.tokenSplitRegex = ALL_ASCII.test(text) ? ascii : full;
      return api.countTokens(text, ORDINARY);
    },
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

// tiktoken's counts (the same in o200k_base and cl100k_base) for strings that need the fixes (the unpatched library
// gets the first five wrong) and for a special-token string, which must count as text.
const SELF_CHECKS: ReadonlyArray<readonly [string, number]> = [
  ['\uFEFF', 1], // BOM lookup (fix 1)
  ['\uFEFFusing', 1],
  ['\uFEFF//', 1], // and \s (fix 2)
  [' \u0085a', 4], // \s (fix 2)
  [" \u{18D80}'s", 7], // Unicode 17 (fix 2)
  ['<|endoftext|>', 7], // special-token strings are text
];

function internalsOf(encoding: LoadedEncoding, api: GptEncodingApi): BpeCoreInternals {
  const core = (api as unknown as { bytePairEncodingCoreProcessor?: Partial<BpeCoreInternals> })
    .bytePairEncodingCoreProcessor;
  if (
    core === undefined ||
    !(core.tokenSplitRegex instanceof RegExp) ||
    !core.tokenSplitRegex.global ||
    typeof core.getBpeRankFromBytes !== 'function' ||
    typeof core.getBpeRankFromString !== 'function' ||
    typeof core.binarySearch !== 'function' ||
    !Array.isArray(core.bytePairNonUtfSortedEncoder)
  ) {
    throw new Error(
      `${encoding}: gpt-tokenizer internals changed; the exactness fixes in src/tokens/backend.ts need review`,
    );
  }
  return core as BpeCoreInternals;
}

function patchBomLookup(internals: BpeCoreInternals): void {
  const original = internals.getBpeRankFromBytes.bind(internals);
  const keepBom = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  internals.getBpeRankFromBytes = (key: Uint8Array): number | undefined => {
    if (key.length < 3 || key[0] !== 0xef || key[1] !== 0xbb || key[2] !== 0xbf) return original(key);
    const index = internals.binarySearch(key);
    if (index !== -1) return internals.bytePairNonUtfSortedEncoder[index]?.[1];
    try {
      return internals.getBpeRankFromString(keepBom.decode(key));
    } catch {
      return undefined; // not valid UTF-8 and not a byte token: no such token
    }
  };
}
