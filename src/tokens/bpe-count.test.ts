// The piece counter against the oracle, tiktoken (WASM): a corpus of varied text (prose, code, JSON, CJK, emoji, long
// runs without spaces, base64, random bytes) must count exactly as tiktoken counts it, with caches cold and warm; the
// heap merge must make the same merges as tiktoken's scan; and the piece-count cache must stay bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { mulberry32 } from '../testing/random.js';
import { loadEncoders, tokenizerFor } from './backend.js';
import { heapMerge, PieceCountCache, PieceCounter, scanMerge, type RankLookup } from './bpe-count.js';
import type { LoadedEncoding } from './encodings.js';
import { readRankTable } from './rank-table.js';
import { randomText } from './testing/random-text.js';

const ENCODINGS: readonly LoadedEncoding[] = ['o200k_base', 'cl100k_base'];
const oracles = new Map<LoadedEncoding, Tiktoken>();

before(async () => {
  await loadEncoders();
  for (const encoding of ENCODINGS) oracles.set(encoding, get_encoding(encoding));
});
after(() => {
  for (const oracle of oracles.values()) oracle.free();
});

function oracleFor(encoding: LoadedEncoding): (text: string) => number {
  const oracle = oracles.get(encoding);
  assert.ok(oracle);
  return (text) => oracle.encode_ordinary(text).length;
}

const random = mulberry32(12);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const randomString = (length: number, alphabet: string): string => {
  const chars = [...alphabet];
  let text = '';
  for (let i = 0; i < length; i++) text += pick(chars);
  return text;
};
const randomBytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));

const PROSE =
  "It's the gateway's job to count tokens before a provider sees the request. They'll reserve the budget, and we'd " +
  'settle it with the usage the provider reports — or the count we made, when none arrives.';
const CODE = `export function merge(a: number[], b: number[]): number[] {\n\tconst out = [];\n\tfor (let i = 0; i < a.length; i++) out.push(a[i] + (b[i] ?? 0));\n\treturn out; // done\n}\n`;
const JSON_TEXT = JSON.stringify({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Summarise: "déjà vu", 100%, {nested: [1, 2.5e-3, null]}' }],
  tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
});

/** Named inputs: every kind of text a prompt carries, including the ones that make long pre-token pieces. */
const CORPUS: ReadonlyArray<readonly [string, string]> = [
  ['prose', PROSE.repeat(3)],
  ['code', CODE.repeat(3)],
  ['json', JSON_TEXT],
  ['json, pretty', JSON.stringify(JSON.parse(JSON_TEXT), null, 2)],
  ['cjk', '東京は日本の首都です。人工知能による自然言語処理の研究が進んでいます。한국어 문장도 있습니다。'],
  ['emoji', '👍🏽 family: 👨‍👩‍👧‍👦, flags 🇫🇷🇯🇵, keycap 1️⃣, text 🙂 and ✨sparkles✨'],
  ['mixed scripts', 'Ελληνικά, русский, עברית, العربية, हिन्दी, ภาษาไทย, and tiếng Việt in one line'],
  ['"a" × 3000', 'a'.repeat(3000)],
  ['random letters, 2000, no spaces', randomString(2000, 'abcdefghijklmnopqrstuvwxyz')],
  ['random mixed-case letters, 1500', randomString(1500, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')],
  ['"=" × 2000 ruler', `title\n${'='.repeat(2000)}\nbody`],
  ['spaces × 1500 then text', `${' '.repeat(1500)}x`],
  ['newlines and spaces', ' \n'.repeat(800)],
  ['base64 of 6 KB', randomBytes(6000).toString('base64')],
  ['image data URL', `data:image/png;base64,${randomBytes(3000).toString('base64')}`],
  ['minified JS', 'function(a,b){return a.map(function(c){return c*b})}'.repeat(40)],
  ['hex', randomBytes(1000).toString('hex')],
  ['CJK run, 1200', randomString(1200, '的一是不了人我在有他这为之大来以个中上们到说')],
  ['Thai run, 1000', randomString(1000, 'กขคงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮะาิีึืุู่้๊๋')],
  ['emoji run, 600', randomString(600, '😀😃😄😁😆😅🤣😂🙂🙃😉😊😇')],
  ['random bytes as latin1', randomBytes(3000).toString('latin1')],
  ['random bytes as UTF-8 (replacement characters)', randomBytes(3000).toString('utf8')],
  ['BOM and special-token look-alikes', '\uFEFFusing System;\n<|endoftext|><|im_start|>user\n\uFEFF//x'],
];

for (const encoding of ENCODINGS) {
  test(`${encoding}: a varied corpus counts exactly as tiktoken counts it, cold and warm`, () => {
    const ours = tokenizerFor(encoding);
    const oracle = oracleFor(encoding);
    ours.clearCache();
    for (const [name, text] of CORPUS) assert.equal(ours.count(text), oracle(text), `${name} (cold)`);
    for (const [name, text] of CORPUS) assert.equal(ours.count(text), oracle(text), `${name} (warm)`);
  });

  test(`${encoding}: 600 seeded random strings joined without spaces count as tiktoken counts them`, () => {
    // Gluing fragments makes long, unusual pieces: the cases where merge order matters most.
    const ours = tokenizerFor(encoding);
    const oracle = oracleFor(encoding);
    for (let seed = 1; seed <= 600; seed++) {
      const text = randomText(seed).replace(/\s+/g, '');
      assert.equal(ours.count(text), oracle(text), `seed ${seed}: ${JSON.stringify(text.slice(0, 80))}`);
    }
  });

  test(`${encoding}: the heap merge makes tiktoken's merges (same count as the scan on every piece)`, () => {
    const ranks = rankLookupFor(encoding);
    const pieces = [
      ...CORPUS.map(([, text]) => text.slice(0, 400)),
      ...Array.from({ length: 300 }, (_, i) => randomString(5 + (i % 200), 'abcdeeeeinnorsstt  ')),
    ];
    for (const piece of pieces) {
      const bytes = Buffer.from(piece, 'utf8').toString('latin1');
      const rankOf = (start: number, end: number) => ranks(bytes, start, end) ?? Infinity;
      assert.equal(heapMerge(bytes.length, rankOf), scanMerge(bytes.length, rankOf), JSON.stringify(piece));
    }
  });
}

/** tiktoken's own table, keyed like ours (token bytes as a latin1 string): independent of the file we read. */
function oracleTable(encoding: LoadedEncoding): Map<string, number> {
  const oracle = oracles.get(encoding);
  assert.ok(oracle);
  const byKey = new Map<string, number>();
  const size = encoding === 'o200k_base' ? 199_998 : 100_256;
  for (let rank = 0; rank < size; rank++) {
    try {
      byKey.set(Buffer.from(oracle.decode_single_token_bytes(rank)).toString('latin1'), rank);
    } catch {
      // unused rank
    }
  }
  return byKey;
}

function rankLookupFor(encoding: LoadedEncoding): RankLookup {
  const table = oracleTable(encoding);
  return (bytes, start, end) => table.get(bytes.slice(start, end));
}

for (const encoding of ENCODINGS) {
  test(`${encoding}: the rank table read from the tiktoken file is tiktoken's, entry for entry`, () => {
    const ours = readRankTable(encoding);
    const oracle = oracleTable(encoding);
    assert.equal(ours.size, oracle.size);
    for (const [bytes, rank] of oracle) assert.equal(ours.rankOf(bytes), rank, JSON.stringify(bytes));
  });
}

test('a piece counter over independent rank tables agrees with tiktoken on long pieces (scan and heap paths)', () => {
  const ranks = rankLookupFor('o200k_base');
  const oracle = oracleFor('o200k_base');
  const counter = new PieceCounter(ranks);
  for (const piece of ['hello', 'a'.repeat(63), 'a'.repeat(65), randomString(500, 'xyz'), '東京'.repeat(40)]) {
    assert.equal(counter.count(piece), oracle(piece), piece.slice(0, 20));
    assert.equal(counter.count(piece), oracle(piece), `${piece.slice(0, 20)} (cached)`);
  }
});

test('the piece-count cache is bounded: two generations of half the capacity, hits move to the young one', () => {
  const cache = new PieceCountCache(4);
  cache.set('a', 1);
  cache.set('b', 2); // young {a, b} is full
  cache.set('c', 3); // {a, b} become old
  assert.equal(cache.get('a'), 1); // back to young: {c, a}
  cache.set('d', 4); // young {c, a} becomes old, {b} is dropped
  assert.equal(cache.get('b'), undefined);
  assert.equal(cache.get('a'), 1);
  assert.equal(cache.get('c'), 3);
  assert.ok(cache.size <= 4);
  for (let i = 0; i < 1000; i++) cache.set(`k${i}`, i);
  assert.ok(cache.size <= 4);
});

test('long pieces cost n log n, not n²: 400 000 letters without a space count in well under a second', () => {
  const ours = tokenizerFor('o200k_base');
  ours.clearCache();
  const text = randomString(400_000, 'abcdefghijklmnopqrstuvwxyz');
  const started = performance.now();
  const tokens = ours.count(text);
  assert.ok(performance.now() - started < 3000, 'quadratic merging would take minutes');
  // Random letters average ~2 characters per token in o200k_base.
  assert.ok(tokens > 400_000 / 4 && tokens < 400_000, String(tokens));
});
