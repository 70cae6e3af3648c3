// Token counting benchmark: exactness and single-thread throughput of tiktoken (WASM, the oracle), js-tiktoken,
// gpt-tokenizer's own countTokens (configured as src/tokens/backend.ts did before issue 12's piece counter: our split
// patterns, ASCII fast path, 20 000-entry merge cache), our piece counter (backend.ts + bpe-count.ts: the same rank
// tables, counts instead of ids, a piece-count cache, heap merging of long pieces), and our countText() (+ the
// long-run guard, the model lookup and the text-count cache), per encoding, side by side, with the ratio to tiktoken.
//
//   npx tsc -p tsconfig.json && node dist/bench/tokens.js [--rounds 7] [--bytes 1000000] [--corpus FILE] [--json]
//   node dist/bench/tokens.js --worst [--bytes N]     hostile inputs (long pieces), our counter only
//
// Method: every scenario's input is built up front; each library counts it once per round; libraries are
// interleaved within a round (rotating the order) so drift hits all alike; warm-up rounds are not recorded; the
// result is the median MB/s (10^6 bytes of UTF-8 per second) over the recorded rounds. Exactness: every library's
// total must equal tiktoken's for every scenario. Load time and memory of each library are measured in a fresh
// child process each.
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { get_encoding, type Tiktoken as WasmTiktoken } from 'tiktoken';
import { Tiktoken as JsTiktoken } from 'js-tiktoken/lite';
import jsO200k from 'js-tiktoken/ranks/o200k_base';
import jsCl100k from 'js-tiktoken/ranks/cl100k_base';
import { ASCII_SPLIT_PATTERNS, loadEncoders, SPLIT_PATTERNS, tokenizerFor } from '../src/tokens/backend.js';
import { countText } from '../src/tokens/counter.js';
import type { LoadedEncoding } from '../src/tokens/encodings.js';
import { mulberry32 } from '../src/testing/random.js';
import { generateProse } from './prose.js';
import { repoRoot } from '../src/util/repo-root.js';
import { runIfEntryPoint } from './entry.js';

export type LibraryName = 'tiktoken' | 'js-tiktoken' | 'gpt-tokenizer' | 'piece-counter' | 'countText';

export interface TokenBenchOptions {
  /** Recorded rounds per scenario (median taken). */
  readonly rounds: number;
  readonly warmupRounds: number;
  /** Size of the prose and code inputs in UTF-8 bytes. */
  readonly bytes: number;
  /** A UTF-8 text file to use as the prose input instead of the generated prose. */
  readonly corpusFile?: string;
  /** Measure load time and memory in child processes. */
  readonly measureLoad: boolean;
}

export interface LibraryResult {
  readonly library: LibraryName;
  /** Median MB/s; null when skipped. */
  readonly mbPerSecond: number | null;
  readonly ratioVsTiktoken: number | null;
  readonly runsMbPerSecond: readonly number[];
  readonly tokens: number | null;
  /** Same total as tiktoken. */
  readonly exact: boolean | null;
  readonly note?: string;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly description: string;
  readonly encoding: LoadedEncoding;
  readonly bytes: number;
  readonly strings: number;
  readonly charsPerToken: number;
  readonly libraries: readonly LibraryResult[];
}

export interface LoadResult {
  readonly library: Exclude<LibraryName, 'countText' | 'gpt-tokenizer'>;
  readonly loadMs: number;
  readonly rssMb: number;
}

export interface TokenBenchResult {
  readonly node: string;
  readonly cpu: string;
  /** 1-minute load average before and after: other processes on the machine skew absolute numbers. */
  readonly loadAverage: readonly [number, number];
  readonly options: TokenBenchOptions;
  readonly scenarios: readonly ScenarioResult[];
  readonly load: readonly LoadResult[];
}

export const DEFAULT_TOKEN_BENCH_OPTIONS: TokenBenchOptions = {
  rounds: 7,
  warmupRounds: 2,
  bytes: 1_000_000,
  measureLoad: true,
};

const ENCODINGS: readonly LoadedEncoding[] = ['o200k_base', 'cl100k_base'];
// countText() picks the encoding from the model name.
const MODEL_FOR: Readonly<Record<LoadedEncoding, string>> = { o200k_base: 'gpt-4o', cl100k_base: 'gpt-4' };

type Counter = (text: string) => number;

interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly inputs: readonly string[];
  /** Clear gpt-tokenizer's merge cache and our piece-count cache before every run (a process that never saw this
   * text). countText's text-count cache is not cleared: on a repeated one-string input it measures a cache hit. */
  readonly coldCache?: boolean;
  /** Libraries not run here, with the reason. */
  readonly skip?: Partial<Record<LibraryName, string>>;
}

export async function runTokenBench(overrides: Partial<TokenBenchOptions> = {}): Promise<TokenBenchResult> {
  const options: TokenBenchOptions = { ...DEFAULT_TOKEN_BENCH_OPTIONS, ...overrides };
  const loadBefore = loadavg()[0] ?? 0;
  const load = options.measureLoad ? measureLoads() : [];
  await loadEncoders();
  const gptTokenizerModules = {
    o200k_base: await import('gpt-tokenizer/encoding/o200k_base'),
    cl100k_base: await import('gpt-tokenizer/encoding/cl100k_base'),
  };
  const prose =
    options.corpusFile !== undefined ? readFileSync(options.corpusFile, 'utf8') : generateProse(options.bytes, 1);
  const code = codeCorpus(options.bytes);
  const scenarios: Scenario[] = [
    { name: 'prose', description: options.corpusFile ?? 'generated English prose, one string', inputs: [prose] },
    {
      name: 'prose-cold',
      description: 'same, merge cache cleared before each run',
      inputs: [prose],
      coldCache: true,
    },
    {
      name: 'prose-512B',
      description: 'same prose as ~512-byte strings (per-call overhead)',
      inputs: chunk(prose, 512),
    },
    ...(code !== undefined
      ? [{ name: 'code', description: 'TypeScript lib .d.ts files, one string', inputs: [code] }]
      : []),
    {
      name: 'long-run',
      description: '"a" × 8192, one pre-token piece (quadratic BPE), merge cache cleared',
      inputs: ['a'.repeat(8192)],
      coldCache: true,
      skip: { 'js-tiktoken': 'skipped: quadratic, 10 000 chars take ~7 s' },
    },
    {
      name: 'base64',
      description: '48 KB of base64 of random bytes (short unseen pieces), caches cleared',
      inputs: [base64Blob(48_000)],
      coldCache: true,
      skip: { 'js-tiktoken': 'skipped: quadratic' },
    },
  ];

  const results: ScenarioResult[] = [];
  for (const encoding of ENCODINGS) {
    const wasm: WasmTiktoken = get_encoding(encoding);
    const js = new JsTiktoken(encoding === 'o200k_base' ? jsO200k : jsCl100k);
    const ours = tokenizerFor(encoding);
    const library = gptTokenizerModules[encoding].default;
    library.setMergeCacheSize(20_000);
    const core = (library as unknown as { bytePairEncodingCoreProcessor: { tokenSplitRegex: RegExp } })
      .bytePairEncodingCoreProcessor;
    const ordinary = { disallowedSpecial: new Set<string>() };
    const counters: ReadonlyArray<readonly [LibraryName, Counter]> = [
      ['tiktoken', (text) => wasm.encode_ordinary(text).length],
      ['js-tiktoken', (text) => js.encode(text, [], []).length],
      [
        'gpt-tokenizer',
        (text) => {
          // eslint-disable-next-line no-control-regex -- all ASCII
          core.tokenSplitRegex = /^[\x00-\x7f]*$/.test(text)
            ? ASCII_SPLIT_PATTERNS[encoding]
            : SPLIT_PATTERNS[encoding];
          return library.countTokens(text, ordinary);
        },
      ],
      ['piece-counter', (text) => ours.count(text)],
      ['countText', (text) => countText(MODEL_FOR[encoding], text)],
    ];
    for (const scenario of scenarios) {
      const clear = scenario.coldCache
        ? () => {
            library.clearMergeCache();
            ours.clearCache();
          }
        : () => undefined;
      results.push(runScenario(scenario, encoding, counters, clear, options));
    }
    wasm.free();
  }
  const loadAverage: [number, number] = [loadBefore, loadavg()[0] ?? 0];
  return { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', loadAverage, options, scenarios: results, load };
}

function runScenario(
  scenario: Scenario,
  encoding: LoadedEncoding,
  counters: ReadonlyArray<readonly [LibraryName, Counter]>,
  clearCache: () => void,
  options: TokenBenchOptions,
): ScenarioResult {
  const bytes = scenario.inputs.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0);
  const chars = scenario.inputs.reduce((sum, text) => sum + text.length, 0);
  const active = counters.filter(([name]) => scenario.skip?.[name] === undefined);
  const runs = new Map<LibraryName, number[]>(active.map(([name]) => [name, []]));
  const totals = new Map<LibraryName, number>();
  const totalRounds = options.warmupRounds + options.rounds;
  for (let round = 0; round < totalRounds; round++) {
    for (let i = 0; i < active.length; i++) {
      const entry = active[(i + round) % active.length];
      if (entry === undefined) continue;
      const [name, count] = entry;
      clearCache();
      const started = process.hrtime.bigint();
      let tokens = 0;
      for (const text of scenario.inputs) tokens += count(text);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      totals.set(name, tokens);
      if (round >= options.warmupRounds) runs.get(name)?.push(bytes / 1e6 / seconds);
    }
  }
  const reference = totals.get('tiktoken');
  const referenceSpeed = median(runs.get('tiktoken') ?? []);
  const libraries: LibraryResult[] = counters.map(([name]) => {
    const skipped = scenario.skip?.[name];
    if (skipped !== undefined) {
      return {
        library: name,
        mbPerSecond: null,
        ratioVsTiktoken: null,
        runsMbPerSecond: [],
        tokens: null,
        exact: null,
        note: skipped,
      };
    }
    const speeds = runs.get(name) ?? [];
    const speed = median(speeds);
    const tokens = totals.get(name) ?? null;
    return {
      library: name,
      mbPerSecond: speed,
      ratioVsTiktoken: referenceSpeed > 0 ? speed / referenceSpeed : null,
      runsMbPerSecond: speeds,
      tokens,
      exact: tokens === reference,
    };
  });
  return {
    scenario: scenario.name,
    description: scenario.description,
    encoding,
    bytes,
    strings: scenario.inputs.length,
    charsPerToken: reference !== undefined && reference > 0 ? chars / reference : 0,
    libraries,
  };
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Base64 of seeded random bytes, without padding: one pre-token piece of letters, digits, '+' and '/'. */
function base64Blob(bytes: number): string {
  const random = mulberry32(7);
  const raw = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) raw[i] = Math.floor(random() * 256);
  return raw.toString('base64').replace(/=+$/, '');
}

function chunk(text: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    const code = text.charCodeAt(end);
    if (end < text.length && code >= 0xdc00 && code <= 0xdfff) end += 1; // keep surrogate pairs whole
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs

const REPO_ROOT = repoRoot();

function codeCorpus(bytes: number): string | undefined {
  const dir = path.join(REPO_ROOT, 'node_modules', 'typescript', 'lib');
  const files = ['lib.es5.d.ts', 'lib.dom.d.ts'].map((file) => path.join(dir, file)).filter((file) => existsSync(file));
  if (files.length === 0) return undefined;
  const text = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  return Buffer.from(text, 'utf8')
    .subarray(0, bytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

// ---------------------------------------------------------------------------------------------------------------
// Load time and memory, each library alone in a fresh process.

const LOAD_SCRIPTS: Readonly<Record<LoadResult['library'], string>> = {
  tiktoken: `const { get_encoding } = await import('tiktoken'); get_encoding('o200k_base').encode_ordinary('x'); get_encoding('cl100k_base').encode_ordinary('x');`,
  'js-tiktoken': `const { Tiktoken } = await import('js-tiktoken/lite'); new Tiktoken((await import('js-tiktoken/ranks/o200k_base')).default).encode('x'); new Tiktoken((await import('js-tiktoken/ranks/cl100k_base')).default).encode('x');`,
  'piece-counter': `const { loadEncoders, tokenizerFor } = await import(${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/src/tokens/backend.js')).href)}); await loadEncoders(); tokenizerFor('o200k_base').count('x');`,
};

function measureLoads(): LoadResult[] {
  return (Object.keys(LOAD_SCRIPTS) as Array<LoadResult['library']>).map((library) => {
    const script = `const rss0 = process.memoryUsage().rss; const t0 = performance.now(); ${LOAD_SCRIPTS[library]} const ms = performance.now() - t0; globalThis.gc?.(); console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss - rss0 }));`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    const parsed = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { ms?: number; rss?: number };
    return { library, loadMs: parsed.ms ?? NaN, rssMb: (parsed.rss ?? NaN) / 1e6 };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Report

export function formatTokenBench(result: TokenBenchResult): string {
  const lines: string[] = [];
  lines.push(
    `token counting, ${result.node}, ${result.cpu} (${cpus().length} cores, load average ${result.loadAverage.map((l) => l.toFixed(1)).join(' → ')}), 1 thread`,
  );
  lines.push(`median of ${result.options.rounds} interleaved rounds after ${result.options.warmupRounds} warm-up`);
  lines.push('MB/s of UTF-8 input (10^6 bytes/s); ×N = speed relative to tiktoken; ✗ = total differs from tiktoken');
  lines.push('');
  const header = [
    'encoding',
    'scenario',
    'MB',
    'chars/tok',
    'tiktoken',
    'js-tiktoken',
    'gpt-tokenizer',
    'piece-counter',
    'countText',
  ];
  const rows: string[][] = [header];
  for (const s of result.scenarios) {
    const cell = (name: LibraryName): string => {
      const lib = s.libraries.find((l) => l.library === name);
      if (lib === undefined || lib.mbPerSecond === null) return 'skipped';
      const ratio = name === 'tiktoken' || lib.ratioVsTiktoken === null ? '' : ` (${lib.ratioVsTiktoken.toFixed(2)}×)`;
      return `${lib.mbPerSecond.toFixed(2)}${ratio}${lib.exact === false ? ' ✗' : ''}`;
    };
    rows.push([
      s.encoding,
      s.scenario,
      (s.bytes / 1e6).toFixed(2),
      s.charsPerToken.toFixed(2),
      cell('tiktoken'),
      cell('js-tiktoken'),
      cell('gpt-tokenizer'),
      cell('piece-counter'),
      cell('countText'),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  for (const row of rows)
    lines.push(
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  const notes = new Set(
    result.scenarios.flatMap((s) =>
      s.libraries.filter((l) => l.note !== undefined).map((l) => `${s.scenario}/${l.library}: ${l.note}`),
    ),
  );
  if (notes.size > 0) lines.push('', ...notes);
  if (result.load.length > 0) {
    lines.push('', 'load (both encodings, fresh process):');
    for (const l of result.load)
      lines.push(`  ${l.library.padEnd(14)} ${l.loadMs.toFixed(0).padStart(5)} ms  +${l.rssMb.toFixed(0)} MB RSS`);
  }
  return lines.join('\n');
}

/** Hostile inputs of `bytes` characters: long pieces without spaces, which are quadratic to merge naively. Our piece
 * counter only (tiktoken takes minutes on the single-piece ones), caches cleared, one run each: MB/s. */
export async function worstCases(bytes: number): Promise<string[]> {
  await loadEncoders(['o200k_base']);
  const ours = tokenizerFor('o200k_base');
  const random = mulberry32(5);
  const letters = (n: number): string =>
    Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
  const words = (length: number): string => {
    const parts: string[] = [];
    for (let size = 0; size < bytes; size += length + 1) parts.push(letters(length));
    return parts.join(' ');
  };
  const cjk = Array.from({ length: Math.floor(bytes / 3) }, () =>
    String.fromCharCode(0x4e00 + Math.floor(random() * 2000)),
  ).join('');
  const inputs: ReadonlyArray<readonly [string, string]> = [
    ['random 127-letter words', words(127)],
    ['random 16-letter words', words(16)],
    ['base64 of random bytes', base64Blob(Math.floor((bytes * 3) / 4))],
    ['"a" × n, one piece', 'a'.repeat(bytes)],
    ['"=" × n, one piece', '='.repeat(bytes)],
    ['random letters, one piece', letters(bytes)],
    ['CJK, one piece', cjk],
    ['" \\n" × n/2, one piece', ' \n'.repeat(bytes / 2)],
  ];
  return inputs.map(([name, text]) => {
    ours.clearCache();
    const started = process.hrtime.bigint();
    const tokens = ours.count(text);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const mb = Buffer.byteLength(text) / 1e6;
    return `  ${name.padEnd(28)} ${mb.toFixed(2)} MB  ${tokens} tokens  ${(seconds * 1000).toFixed(0)} ms  ${(mb / seconds).toFixed(2)} MB/s`;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worst: { type: 'boolean' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      bytes: { type: 'string' },
      corpus: { type: 'string' },
      json: { type: 'boolean' },
      'no-load': { type: 'boolean' },
    },
    strict: true,
  });
  const overrides: { -readonly [K in keyof TokenBenchOptions]?: TokenBenchOptions[K] } = {};
  if (values.rounds !== undefined) overrides.rounds = Number(values.rounds);
  if (values.warmup !== undefined) overrides.warmupRounds = Number(values.warmup);
  if (values.bytes !== undefined) overrides.bytes = Number(values.bytes);
  if (values.corpus !== undefined) overrides.corpusFile = values.corpus;
  if (values['no-load'] === true) overrides.measureLoad = false;
  if (values.worst === true) {
    const bytes = overrides.bytes ?? DEFAULT_TOKEN_BENCH_OPTIONS.bytes;
    process.stdout.write(
      `worst cases, o200k_base, piece counter, caches cleared:\n${(await worstCases(bytes)).join('\n')}\n`,
    );
    return;
  }
  const result = await runTokenBench(overrides);
  process.stdout.write((values.json === true ? JSON.stringify(result, null, 2) : formatTokenBench(result)) + '\n');
}

runIfEntryPoint(import.meta.url, 'bench/tokens', main);
