// Seeded random text for tokenizer exactness tests: fragments of prose, code, scripts with combining marks, emoji,
// whitespace of every Unicode kind, contractions, special-token look-alikes, long words and lone surrogates,
// concatenated. Deterministic for a seed, so a failure names a reproducible case.
import { mulberry32 } from '../../testing/random.js';

export interface RandomTextOptions {
  /** Include U+FEFF (byte-order mark) and U+0085 (next line), the two characters whose whitespace-ness differs
   * between JavaScript's \s and tiktoken's regex (Unicode White_Space). */
  readonly divergentWhitespace?: boolean;
  /** Maximum number of fragments. */
  readonly maxFragments?: number;
}

const WORDS =
  'the of and to in is that for it as was with be by on not this are from at which but have an they you were her one all we their there been has would when'.split(
    ' ',
  );
const CONTRACTIONS = [
  "'s",
  "'S",
  "'t",
  "'T",
  "'re",
  "'RE",
  "'Re",
  "'ve",
  "'m",
  "'M",
  "'ll",
  "'LL",
  "'d",
  "'D",
  "'ſ",
  "'x",
  "'",
];
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const WHITESPACE = [
  ' ',
  '  ',
  '\t',
  '\n',
  '\r\n',
  '\r',
  '\n\n',
  ' \n ',
  '\u000B',
  '\u000C',
  '\u00A0',
  '\u1680',
  '\u2000',
  '\u2003',
  '\u200A',
  '\u2028',
  '\u2029',
  '\u202F',
  '\u205F',
  '\u3000',
  '\u200B',
  '\u180E',
  '\u2060',
];
const SCRIPTS = [
  'é',
  'ß',
  'Ω',
  'Привет',
  'мир',
  'Ελληνικά',
  '漢字',
  '日本語のテキスト',
  '한국어',
  'العربية',
  'हिन्दी',
  'ภาษาไทย',
  'ǅ',
  'ʰ',
  'e\u0301',
  '\u0301',
  '\u0301\u0302',
  'İ',
  'ﬁ',
  'Ⅻ',
  '²',
  '٣',
  'ŉ',
  'ᾈ',
];
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '❤️', '✨', '🏳️‍🌈', '🤖', '\uFE0F'];
const SPECIALS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<|im_sep|>',
  '<|fim_prefix|>',
  '<|fim_middle|>',
  '<|fim_suffix|>',
  '<|endofprompt|>',
  '<|start|>',
  '<|message|>',
  '<|end|>',
  '<|channel|>',
  '<|return|>',
  '<|call|>',
  '<|startoftext|>',
];
const CODE = [
  'function f(x) {',
  'return x + 1;',
  '}',
  'const a = [1, 2, 3];',
  '=>',
  '//',
  '/* */',
  '#include <stdio.h>',
  'SELECT * FROM t WHERE id = 1;',
  '{"key": "value"}',
  'https://example.com/a/b?c=d',
  'foo_bar_baz',
  'camelCaseIdentifier',
  '    if (a) {\n        b();\n    }\n',
  '\t\treturn;\n',
  'x!=y',
  '...',
  '---',
  '0x1F',
  '1e-9',
];
const LONE = ['\uD800', '\uDC00', 'a\uD83D', '\uDE00b'];
const RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00a0, 0x024f],
  [0x0370, 0x03ff],
  [0x0400, 0x04ff],
  [0x0590, 0x06ff],
  [0x0900, 0x097f],
  [0x0e00, 0x0e7f],
  [0x2000, 0x2bff],
  [0x3000, 0x30ff],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
  [0xfe00, 0xfefe], // U+FEFF only with divergentWhitespace
  [0x1f300, 0x1faff],
  [0x10000, 0x1ffff],
];

export const TRICKY_STRINGS: readonly string[] = [
  '',
  ' ',
  'tiktoken is great!',
  'antidisestablishmentarianism',
  '2 + 2 = 4',
  'お誕生日おめでとう',
  '<|endoftext|>',
  'hello <|endoftext|> world <|endofprompt|>',
  '<|im_start|>system<|im_sep|>You are helpful<|im_end|>',
  '<|start|>assistant<|channel|>final<|message|>hi<|end|>',
  '\uFEFF',
  '\uFEFFusing System;',
  '\uFEFF//',
  'x \uFEFF//',
  '!\uFEFF!',
  '\uFEFF\uFEFFx',
  '\uFEFF\n\nnamespace',
  'a\u0085b',
  '!\u0085!',
  'x\u0085\u0085 y',
  "don'ſ",
  "I'M HE'S WE'RE THEY'LL",
  "don't won't she'll we've I'd",
  '     \n    x',
  '\n\n\n',
  '   ',
  'a   ',
  '\t\t\n\t',
  ' \u00A0 \u3000 x',
  '👨‍👩‍👧‍👦 🇫🇷 👍🏽',
  'e\u0301\u0301\u0301',
  '\uD800',
  'ab\uD800cd\uDC00',
  '1234567890123',
  'ǅungla ᾈᾉ',
];

export function randomText(seed: number, options: RandomTextOptions = {}): string {
  const random = mulberry32(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const one = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const fragments = 1 + int(options.maxFragments ?? 24);
  let text = '';
  for (let i = 0; i < fragments; i++) {
    const kind = int(options.divergentWhitespace === true ? 15 : 14);
    switch (kind) {
      case 0:
      case 1:
        text += one(WORDS) + (random() < 0.5 ? ' ' : '');
        break;
      case 2: {
        const word = one(WORDS);
        text += random() < 0.5 ? word.toUpperCase() : word.charAt(0).toUpperCase() + word.slice(1);
        break;
      }
      case 3:
        text += one(CONTRACTIONS);
        break;
      case 4:
        text += String(int(10 ** (1 + int(9))));
        break;
      case 5: {
        const n = 1 + int(5);
        for (let k = 0; k < n; k++) text += PUNCTUATION.charAt(int(PUNCTUATION.length));
        break;
      }
      case 6:
        text += random() < 0.2 ? ' '.repeat(1 + int(40)) : one(WHITESPACE);
        break;
      case 7:
        text += one(SCRIPTS);
        break;
      case 8:
        text += one(EMOJI);
        break;
      case 9:
        text += one(SPECIALS);
        break;
      case 10:
        text += one(CODE);
        break;
      case 11: {
        const n = 20 + int(100);
        const upper = random() < 0.3;
        for (let k = 0; k < n; k++) text += String.fromCharCode((upper && random() < 0.5 ? 65 : 97) + int(26));
        break;
      }
      case 12: {
        const [lo, hi] = one(RANGES);
        const n = 1 + int(6);
        for (let k = 0; k < n; k++) text += String.fromCodePoint(lo + int(hi - lo + 1));
        break;
      }
      case 13:
        text += random() < 0.3 ? one(LONE) : one(WORDS);
        break;
      default:
        text += random() < 0.5 ? '\uFEFF' : '\u0085';
    }
  }
  return text;
}
