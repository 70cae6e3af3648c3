// `npm run bench`: measures the real llm-extproc ext_proc server against the transport floor (a bare grpc-js
// ext_proc server answering CONTINUE), side by side in one run. Three processes per measurement: this orchestrator,
// the server under test and the load generator, so client CPU is never billed to the server.
// Options: --rounds N  --concurrency N  --json-count N  --sse-count N  --only <scenario>  --quick  --profile
// --prompt-sizes: instead, the real server alone with JSON prompts of 2 KB, 20 KB, 100 KB and 500 KB of English prose
// (budgets on: every prompt is counted), printing CPU µs per KB and whether the cost is linear in prompt size.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../src/util/repo-root.js';
import {
  Inbox,
  type FromLoad,
  type FromServer,
  type LoadJob,
  type LoadResult,
  type ToLoad,
  type ToServer,
} from './ipc.js';
import { formatSummary, summariseProfile, type ProfileSummary } from './profile.js';
import {
  CPU_RATIO_GOAL,
  DEFAULT_SETTINGS,
  type BenchSettings,
  type ScenarioName,
  type ScenarioSettings,
  type ServerKind,
} from './scenarios.js';
import { median, percentile, round } from './stats.js';
import { chatRequestOfSize, REQUEST_BODY_JSON, RESPONSE_BODY_JSON, SSE_RESPONSE_CHUNKS } from './fixtures.js';
import { SERVICE_NODE_FLAGS } from '../src/workers/node-flags.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
const resultsDir = path.join(repoRoot(), 'bench', 'results');
const profileDir = path.join(resultsDir, 'profiles');

interface RunMeasurement {
  readonly round: number;
  readonly kind: ServerKind;
  readonly exchanges: number;
  readonly messages: number;
  readonly cpuUsPerExchange: number;
  readonly cpuUsPerMessage: number;
  /** Main (JavaScript) thread's share of cpuUsPerExchange, from /proc (Linux; NaN elsewhere). */
  readonly mainThreadUsPerExchange: number;
  /** Server CPU per exchange: main thread and other threads (V8 GC/JIT workers, libuv), from /proc at 10 ms resolution. */
  readonly threadsUsPerExchange: Record<string, number>;
  /** Server CPU time / wall time of the window: 1.0 = one core busy. */
  readonly serverCores: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly exchangesPerSec: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly profile?: ProfileSummary;
}

interface KindSummary {
  readonly cpuUsPerExchange: number;
  readonly cpuUsPerMessage: number;
  readonly mainThreadUsPerExchange: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rssMb: number;
  readonly exchangesPerSec: number;
  readonly serverCores: number;
}

interface ScenarioResult {
  readonly scenario: ScenarioName;
  readonly settings: ScenarioSettings;
  readonly messagesPerExchange: number;
  readonly floor: KindSummary;
  readonly real: KindSummary;
  readonly ratio: { readonly cpuUs: number; readonly mainThreadUs: number; readonly p50: number; readonly p99: number };
  readonly validationChecks: number;
  readonly rounds: RunMeasurement[];
}

/** The service's resident memory target (issue 12), measured at this concurrency. */
const RSS_TARGET = { mb: 150, concurrency: 64 } as const;

/** One PASS/FAIL line per target (the same words as bench:peers): CPU per exchange against the floor, and RSS. */
function verdictLines(results: readonly ScenarioResult[], concurrency: number): string[] {
  const word = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
  const lines: string[] = [];
  for (const r of results) {
    const pass = r.ratio.cpuUs <= CPU_RATIO_GOAL;
    lines.push(
      `${word(pass)} ${r.scenario}: ext_proc CPU per exchange ${r.ratio.cpuUs.toFixed(2)}× the CONTINUE-only floor (target ≤ ${CPU_RATIO_GOAL}×, budgets on); p50 ratio ${r.ratio.p50.toFixed(2)}`,
    );
  }
  const rss = Math.max(...results.map((r) => r.real.rssMb));
  if (concurrency === RSS_TARGET.concurrency) {
    lines.push(
      `${word(rss <= RSS_TARGET.mb)} service RSS at c=${concurrency}: ${rss.toFixed(0)} MB (target ≤ ${RSS_TARGET.mb} MB)`,
    );
  } else {
    lines.push(
      `N/A  service RSS: ${rss.toFixed(0)} MB at c=${concurrency}; the target (≤ ${RSS_TARGET.mb} MB) is at c=${RSS_TARGET.concurrency}: --concurrency ${RSS_TARGET.concurrency}`,
    );
  }
  return lines;
}

/** Prompt sizes of --prompt-sizes, and the linearity target: µs per KB at the largest over that at the smallest. */
const PROMPT_SIZES_KB = [2, 20, 100, 500] as const;
const LINEARITY_GOAL = 2;

/** Exchanges per prompt size: about 8 MB of prompts per window (at least 20), a quarter of that to warm up. */
function promptSizeScenarios(quick: boolean): ScenarioSettings[] {
  return PROMPT_SIZES_KB.map((kb) => {
    const count = Math.max(20, Math.round((quick ? 2000 : 8000) / kb));
    return {
      name: 'prompt-size',
      stream: false,
      warmup: Math.max(5, Math.ceil(count / 4)),
      count,
      promptBytes: kb * 1024,
    };
  });
}

interface PromptSizeRow {
  readonly kb: number;
  readonly bodyBytes: number;
  readonly cpuUsPerExchange: number;
  readonly usPerKb: number;
  readonly p50Ms: number;
  readonly rssMb: number;
}

/** --prompt-sizes: rounds interleave the sizes; per size the median CPU per exchange, per KB of request body. */
async function runPromptSizes(settings: BenchSettings, quick: boolean): Promise<void> {
  const scenarios = promptSizeScenarios(quick);
  const runs = new Map<number, RunMeasurement[]>();
  for (let r = 1; r <= settings.rounds; r++) {
    for (const scenario of scenarios) {
      const kb = (scenario.promptBytes ?? 0) / 1024;
      const m = await measure('real', scenario, r, settings);
      runs.set(kb, [...(runs.get(kb) ?? []), m]);
      console.log(
        `  ${kb} KB round ${r}: ${m.cpuUsPerExchange.toFixed(0)} µs CPU/exch, p50 ${m.p50Ms.toFixed(2)} ms, RSS ${m.rssMb.toFixed(0)} MB`,
      );
    }
  }
  const rows: PromptSizeRow[] = scenarios.map((scenario) => {
    const bodyBytes = chatRequestOfSize(false, scenario.promptBytes ?? 0).length;
    const kb = (scenario.promptBytes ?? 0) / 1024;
    const summary = summariseKind(runs.get(kb) ?? []);
    return {
      kb,
      bodyBytes,
      cpuUsPerExchange: summary.cpuUsPerExchange,
      usPerKb: summary.cpuUsPerExchange / (bodyBytes / 1024),
      p50Ms: summary.p50Ms,
      rssMb: summary.rssMb,
    };
  });
  console.log(`
medians of ${settings.rounds} round(s), real server only, budgets on, concurrency ${settings.concurrency}
`);
  console.log('prompt   body B   CPU µs/exch   µs/KB   marginal µs/KB   p50 ms   RSS MB');
  rows.forEach((row, i) => {
    const previous = rows[i - 1];
    const marginal =
      previous === undefined
        ? '—'
        : ((row.cpuUsPerExchange - previous.cpuUsPerExchange) / ((row.bodyBytes - previous.bodyBytes) / 1024)).toFixed(
            1,
          );
    console.log(
      `${`${row.kb} KB`.padEnd(8)} ${String(row.bodyBytes).padStart(7)} ${row.cpuUsPerExchange.toFixed(0).padStart(13)} ` +
        `${row.usPerKb.toFixed(1).padStart(7)} ${marginal.padStart(16)} ${row.p50Ms.toFixed(2).padStart(8)} ${row.rssMb.toFixed(0).padStart(8)}`,
    );
  });
  const smallest = rows[0];
  const largest = rows[rows.length - 1];
  if (smallest === undefined || largest === undefined) return;
  const ratio = largest.usPerKb / smallest.usPerKb;
  console.log(
    `\n${ratio <= LINEARITY_GOAL ? 'PASS' : 'FAIL'} cost linear in prompt size: largest/smallest µs per KB = ${ratio.toFixed(2)} (≤ ${LINEARITY_GOAL})`,
  );
  const file = path.join(resultsDir, 'latest-prompt-size.json');
  writeFileSync(file, JSON.stringify({ generatedAt: new Date().toISOString(), settings, rows, ratio }, null, 2) + '\n');
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

function parseArgs(argv: readonly string[]): BenchSettings {
  const value = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i === -1) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer`);
    return n;
  };
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const onlyIndex = argv.indexOf('--only');
  const only = onlyIndex === -1 ? undefined : argv[onlyIndex + 1];
  let scenarios = DEFAULT_SETTINGS.scenarios.map((s) => {
    const count = value(s.stream ? '--sse-count' : '--json-count') ?? (quick ? Math.ceil(s.count / 5) : s.count);
    return { ...s, count, warmup: quick ? Math.ceil(s.warmup / 2) : s.warmup };
  });
  if (only !== undefined) {
    scenarios = scenarios.filter((s) => s.name === only);
    if (scenarios.length === 0)
      throw new Error(
        `--only: unknown scenario '${only}' (${DEFAULT_SETTINGS.scenarios.map((s) => s.name).join(', ')})`,
      );
  }
  return {
    concurrency: value('--concurrency') ?? DEFAULT_SETTINGS.concurrency,
    rounds: value('--rounds') ?? (quick || profile ? 1 : DEFAULT_SETTINGS.rounds),
    profile,
    scenarios,
  };
}

function startChild(script: string, args: string[], execArgv: string[]): ChildProcess {
  return fork(path.join(here, script), args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function stopChild(child: ChildProcess, message: ToServer | ToLoad): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.send(message);
  // A child that does not leave on request is killed (by its own handle, never by name).
  setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, 2000).unref();
}

let validationChecks = 0;

async function measure(
  kind: ServerKind,
  scenario: ScenarioSettings,
  roundNo: number,
  settings: BenchSettings,
): Promise<RunMeasurement> {
  const label = `${scenario.name}-${kind}-r${roundNo}`;
  // Both servers run with the service's Node flags (what `llm-extproc start` runs with).
  const server = startChild('server.js', settings.profile ? [kind, profileDir] : [kind], [
    '--expose-gc',
    ...SERVICE_NODE_FLAGS,
  ]);
  const serverInbox = new Inbox<FromServer>(server, `${kind} server`);
  let load: ChildProcess | undefined;
  try {
    const { port } = await serverInbox.next('ready', 30_000);
    load = startChild('load.js', [], []);
    const loadInbox = new Inbox<FromLoad>(load, `load generator (${label})`);
    const job: LoadJob = { port, kind, scenario, concurrency: settings.concurrency, validate: kind === 'real' };
    load.send({ type: 'job', job } satisfies ToLoad);
    // Budgets generous enough for a slow, noisy machine; they only exist so a hang cannot last forever.
    const budgetMs = 60_000 + (scenario.stream ? 400 : 20) * (scenario.count + scenario.warmup);
    if (job.validate) validationChecks += (await loadInbox.next('validated', 30_000)).checks;
    await loadInbox.next('warm', budgetMs);

    server.send({ type: 'mark' } satisfies ToServer);
    await serverInbox.next('marked', 10_000);
    load.send({ type: 'go' } satisfies ToLoad);
    const { result } = await loadInbox.next('done', budgetMs);
    server.send({ type: 'stop', label } satisfies ToServer);
    const stopped = await serverInbox.next('stopped', 30_000);
    return summariseRun(roundNo, kind, result, stopped);
  } finally {
    if (load) stopChild(load, { type: 'exit' });
    stopChild(server, { type: 'exit' });
  }
}

function summariseRun(
  roundNo: number,
  kind: ServerKind,
  result: LoadResult,
  stopped: Extract<FromServer, { type: 'stopped' }>,
): RunMeasurement {
  const profile = stopped.profileFile ? summariseProfile(stopped.profileFile, 25) : undefined;
  const threadsUsPerExchange: Record<string, number> = {};
  for (const [name, ms] of Object.entries(stopped.threadsMs))
    threadsUsPerExchange[name] = (ms * 1000) / result.exchanges;
  return {
    round: roundNo,
    kind,
    exchanges: result.exchanges,
    messages: result.messages,
    cpuUsPerExchange: stopped.cpuUs / result.exchanges,
    cpuUsPerMessage: stopped.cpuUs / result.messages,
    mainThreadUsPerExchange: threadsUsPerExchange.main ?? Number.NaN,
    threadsUsPerExchange,
    serverCores: stopped.cpuUs / 1000 / stopped.wallMs,
    p50Ms: percentile(result.latenciesMs, 50),
    p99Ms: percentile(result.latenciesMs, 99),
    exchangesPerSec: (result.exchanges * 1000) / result.wallMs,
    rssMb: stopped.rssBytes / (1024 * 1024),
    heapUsedMb: stopped.heapUsedBytes / (1024 * 1024),
    ...(profile ? { profile } : {}),
  };
}

function summariseKind(runs: readonly RunMeasurement[]): KindSummary {
  const m = (pick: (r: RunMeasurement) => number) => median(runs.map(pick));
  return {
    cpuUsPerExchange: m((r) => r.cpuUsPerExchange),
    cpuUsPerMessage: m((r) => r.cpuUsPerMessage),
    mainThreadUsPerExchange: m((r) => r.mainThreadUsPerExchange),
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    rssMb: m((r) => r.rssMb),
    exchangesPerSec: m((r) => r.exchangesPerSec),
    serverCores: m((r) => r.serverCores),
  };
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function table(results: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'server',
    'CPU µs/exch',
    'main thr µs',
    'CPU µs/msg',
    'p50 ms',
    'p99 ms',
    'RSS MB',
    'exch/s',
    'srv cores',
  ];
  const widths = [18, 8, 12, 12, 11, 8, 8, 8, 8, 10];
  const row = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i < 2)).join(' ');
  const lines = [row(header), row(widths.map((w) => '-'.repeat(w)))];
  for (const r of results) {
    for (const kind of ['floor', 'real'] as const) {
      const s = r[kind];
      lines.push(
        row([
          kind === 'floor' ? r.scenario : '',
          kind,
          s.cpuUsPerExchange.toFixed(0),
          s.mainThreadUsPerExchange.toFixed(0),
          s.cpuUsPerMessage.toFixed(1),
          s.p50Ms.toFixed(2),
          s.p99Ms.toFixed(2),
          s.rssMb.toFixed(0),
          s.exchangesPerSec.toFixed(0),
          s.serverCores.toFixed(2),
        ]),
      );
    }
    lines.push(
      row([
        '',
        'real/fl',
        `${r.ratio.cpuUs.toFixed(2)}x`,
        `${r.ratio.mainThreadUs.toFixed(2)}x`,
        '',
        `${r.ratio.p50.toFixed(2)}x`,
        `${r.ratio.p99.toFixed(2)}x`,
        '',
        '',
        '',
      ]),
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  mkdirSync(resultsDir, { recursive: true });
  if (process.argv.includes('--prompt-sizes')) {
    await runPromptSizes(settings, process.argv.includes('--quick'));
    return;
  }
  if (settings.profile) mkdirSync(profileDir, { recursive: true });
  const started = Date.now();
  const machine = {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  console.log(
    `llm-extproc bench: ${settings.rounds} interleaved round(s) of floor/real per scenario, concurrency ${settings.concurrency}` +
      `${settings.profile ? ', CPU PROFILING ON (numbers inflated)' : ''}\n` +
      `machine: ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, load avg ${machine.loadAverageAtStart.join(' ')}\n` +
      `payloads: request ${REQUEST_BODY_JSON.length} B, JSON response ${RESPONSE_BODY_JSON.length} B, SSE ${SSE_RESPONSE_CHUNKS.length} chunks\n`,
  );

  const results: ScenarioResult[] = [];
  for (const scenario of settings.scenarios) {
    const runs: RunMeasurement[] = [];
    validationChecks = 0;
    for (let r = 1; r <= settings.rounds; r++) {
      for (const kind of ['floor', 'real'] as const) {
        const m = await measure(kind, scenario, r, settings);
        runs.push(m);
        console.log(
          `  ${scenario.name} round ${r} ${pad(kind, 5, true)}: ${m.cpuUsPerExchange.toFixed(0)} µs CPU/exch ` +
            `(main thread ${m.mainThreadUsPerExchange.toFixed(0)}), p50 ${m.p50Ms.toFixed(2)} ms, ` +
            `p99 ${m.p99Ms.toFixed(2)} ms, ${m.exchangesPerSec.toFixed(0)} exch/s, RSS ${m.rssMb.toFixed(0)} MB`,
        );
        if (m.profile) console.log(formatSummary(`  profile ${scenario.name} ${kind}`, m.profile));
      }
    }
    const floor = summariseKind(runs.filter((x) => x.kind === 'floor'));
    const real = summariseKind(runs.filter((x) => x.kind === 'real'));
    results.push({
      scenario: scenario.name,
      settings: scenario,
      messagesPerExchange: (runs[0]?.messages ?? 0) / (runs[0]?.exchanges ?? 1),
      floor,
      real,
      ratio: {
        cpuUs: real.cpuUsPerExchange / floor.cpuUsPerExchange,
        mainThreadUs: real.mainThreadUsPerExchange / floor.mainThreadUsPerExchange,
        p50: real.p50Ms / floor.p50Ms,
        p99: real.p99Ms / floor.p99Ms,
      },
      validationChecks,
      rounds: runs,
    });
  }

  const elapsedS = (Date.now() - started) / 1000;
  console.log(`\nmedians of ${settings.rounds} round(s); ${elapsedS.toFixed(0)} s total\n`);
  console.log(table(results));
  console.log('');
  for (const line of verdictLines(results, settings.concurrency)) console.log(line);

  const file = path.join(resultsDir, settings.profile ? 'latest-profile.json' : 'latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        elapsedS: round(elapsedS, 1),
        machine,
        settings,
        cpuRatioGoal: CPU_RATIO_GOAL,
        results,
      },
      (_key, value: unknown) => (typeof value === 'number' ? round(value, 3) : value),
      2,
    ) + '\n',
  );
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
