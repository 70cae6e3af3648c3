// `npm run bench:workers`: ext_proc throughput with 1 and with 2 worker processes (extproc.workers), through the
// same real Envoy bootstrap (`llm-extproc envoy-bootstrap`), budgets on (memory store: with workers every reserve
// and settle crosses to the primary's ledger over IPC), c=32 JSON requests against the mock upstream. Interleaved
// rounds (the order alternates), medians. Reports requests/s, the service's CPU (primary + workers, from /proc),
// Envoy's, and the budget store's mean call latency from /metrics (in-process vs IPC).
//
//   node dist/bench/workers.js [--quick] [--rounds N] [--seconds S] [--warmup S] [--concurrency C]
//                              [--workers 1,2] [--envoy-concurrency N]
//
// Envoy opens one ext_proc connection per Envoy worker thread and the cluster module hands connections to ext_proc
// workers in turn, so Envoy needs at least as many threads as there are ext_proc workers (--envoy-concurrency,
// default 2) for every worker to get traffic at once. Results: a markdown table and bench/results/workers-latest.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { envoyBinary } from '../src/envoy/binary.js';
import { repoRoot } from '../src/util/repo-root.js';
import { killAllNow, stopAll } from './peers/children.js';
import { LoadGenerator, startMockUpstreams } from './peers/drivers.js';
import { treeCpuMs } from './peers/proc.js';
import { startExtproc, type BenchPath } from './peers/targets.js';
import { median, percentile, round } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/bench

interface Settings {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly concurrency: number;
  readonly workers: readonly number[];
  readonly envoyConcurrency: number;
  readonly quick: boolean;
}

function settingsFrom(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      workers: { type: 'string' },
      'envoy-concurrency': { type: 'string' },
    },
    strict: true,
  });
  const int = (text: string | undefined, fallback: number, max: number, what: string): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new Error(`--${what}: expected an integer from 1 to ${max}, got '${text}'`);
    return n;
  };
  const quick = values.quick ?? false;
  const workers = (values.workers ?? '1,2').split(',').map((w) => int(w.trim(), 1, 64, 'workers'));
  return {
    quick,
    rounds: int(values.rounds, quick ? 1 : 5, 20, 'rounds'),
    seconds: int(values.seconds, quick ? 2 : 8, 60, 'seconds'),
    warmupSeconds: int(values.warmup, quick ? 1 : 3, 30, 'warmup'),
    concurrency: int(values.concurrency, 32, 256, 'concurrency'),
    workers: [...new Set(workers)],
    envoyConcurrency: int(values['envoy-concurrency'], 2, 64, 'envoy-concurrency'),
  };
}

interface Measurement {
  readonly round: number;
  readonly workers: number;
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU of the service's process tree (primary + workers), ms per successful request. */
  readonly serviceCpuMsPerRequest: number;
  /** The same over the wall time: how many cores the service kept busy. */
  readonly serviceCores: number;
  readonly envoyCpuMsPerRequest: number;
}

interface Target {
  readonly workers: number;
  readonly path: BenchPath;
}

async function measure(
  load: LoadGenerator,
  target: Target,
  settings: Settings,
  roundNo: number,
  durationMs: number,
): Promise<Measurement> {
  const { path: p } = target;
  const service = p.pids.extproc!;
  const envoy = p.pids.envoy!;
  let before = new Map<number, number>();
  const result = await load.run(
    {
      url: p.url,
      headers: p.headers,
      body: p.bodies.json,
      stream: false,
      expect: p.expect,
      concurrency: settings.concurrency,
      warmupMs: 1000,
      durationMs,
      maxRequests: 1_000_000,
      minRequests: 0,
    },
    () => (before = treeCpuMs([service, envoy])),
  );
  const after = treeCpuMs([service, envoy]);
  const ok = result.latenciesMs.length;
  const delta = (pid: number) => (after.get(pid) ?? 0) - (before.get(pid) ?? 0);
  return {
    round: roundNo,
    workers: target.workers,
    requests: result.requests,
    errors: result.errors,
    firstError: result.firstError,
    requestsPerSecond: (ok * 1000) / result.wallMs,
    p50Ms: percentile(result.latenciesMs, 50),
    p99Ms: percentile(result.latenciesMs, 99),
    serviceCpuMsPerRequest: ok > 0 ? delta(service) / ok : Number.NaN,
    serviceCores: delta(service) / result.wallMs,
    envoyCpuMsPerRequest: ok > 0 ? delta(envoy) / ok : Number.NaN,
  };
}

/** Mean budget store call latency by operation, µs, from the service's /metrics (all workers aggregated). */
async function storeLatencyUs(adminUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(
    /^llm_extproc_budget_store_seconds_(sum|count)\{operation="([^"]+)"\} ([0-9.e+-]+)$/gm,
  )) {
    (match[1] === 'sum' ? sums : counts).set(match[2]!, Number(match[3]));
  }
  const out: Record<string, number> = {};
  for (const [operation, count] of counts)
    if (count > 0) out[operation] = round(((sums.get(operation) ?? 0) / count) * 1e6, 1);
  return out;
}

function log(line: string): void {
  process.stdout.write(line + '\n');
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  const command =
    `node ${path.relative(process.cwd(), process.argv[1] ?? 'dist/bench/workers.js')} ${process.argv.slice(2).join(' ')}`.trim();
  const loadBefore = os.loadavg().map((l) => round(l, 2));
  log(`# llm-extproc workers bench${settings.quick ? ' (--quick: smoke test, not a result)' : ''}`);
  log(`command: ${command}`);
  log(
    `machine: nproc ${os.availableParallelism()} (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}; load average before: ${loadBefore.join(' ')}`,
  );
  log(
    `plan: workers ${settings.workers.join(' vs ')}, c=${settings.concurrency} JSON, Envoy --concurrency ${settings.envoyConcurrency}, ` +
      `${settings.rounds} interleaved round(s) × ${settings.seconds} s (+1 s pre-warm), ${settings.warmupSeconds} s warm-up each\n`,
  );
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'llm-extproc-workers-'));
  const measurements: Measurement[] = [];
  const storeLatency: Record<number, Record<string, number>> = {};
  let load: LoadGenerator | undefined;
  try {
    const mock = await startMockUpstreams(3);
    load = new LoadGenerator();
    const envoyVersion = `Envoy ${/version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(spawnSync(await envoyBinary(), ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?'}`;
    const ctx = { workDir, distRoot: path.dirname(here), mock };
    const targets: Target[] = [];
    for (const workers of settings.workers) {
      const [p] = await startExtproc(ctx, envoyVersion, { workers, envoyConcurrency: settings.envoyConcurrency });
      if (!p) throw new Error('startExtproc returned no path');
      const probe = await load.probe(p.url, p.headers, p.bodies.json);
      if (probe.status !== 200)
        throw new Error(`${workers} worker(s): probe answered ${probe.status}: ${probe.body.slice(0, 300)}`);
      targets.push({ workers, path: p });
      log(`ready: ${workers} worker(s) — ${p.note}`);
    }
    for (const target of targets) await measure(load, target, settings, 0, settings.warmupSeconds * 1000);
    for (let r = 1; r <= settings.rounds; r++) {
      const order = r % 2 === 1 ? targets : [...targets].reverse();
      for (const target of order) {
        const m = await measure(load, target, settings, r, settings.seconds * 1000);
        measurements.push(m);
        log(
          `  round ${r} workers ${m.workers}: ${m.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms.toFixed(2)} ms  p99 ${m.p99Ms.toFixed(2)} ms  ` +
            `service ${m.serviceCpuMsPerRequest.toFixed(3)} ms/req (${m.serviceCores.toFixed(2)} cores)  envoy ${m.envoyCpuMsPerRequest.toFixed(3)} ms/req` +
            (m.errors > 0 ? `  ERRORS ${m.errors}: ${m.firstError ?? ''}` : ''),
        );
      }
    }
    for (const target of targets)
      if (target.path.adminUrl) storeLatency[target.workers] = await storeLatencyUs(target.path.adminUrl);
  } finally {
    load?.exit();
    await stopAll();
  }

  const rows = settings.workers.map((workers) => {
    const mine = measurements.filter((m) => m.workers === workers);
    const med = (f: (m: Measurement) => number) => round(median(mine.map(f)), 3);
    return {
      workers,
      requestsPerSecond: med((m) => m.requestsPerSecond),
      p50Ms: med((m) => m.p50Ms),
      p99Ms: med((m) => m.p99Ms),
      serviceCpuMsPerRequest: med((m) => m.serviceCpuMsPerRequest),
      serviceCores: med((m) => m.serviceCores),
      envoyCpuMsPerRequest: med((m) => m.envoyCpuMsPerRequest),
      errors: mine.reduce((sum, m) => sum + m.errors, 0),
      storeLatencyUs: storeLatency[workers] ?? {},
    };
  });
  const loadAfter = os.loadavg().map((l) => round(l, 2));
  log(
    `\n## Results: medians of ${settings.rounds} round(s); load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}\n`,
  );
  log(
    '| ext_proc workers | req/s | p50 ms | p99 ms | service CPU ms/req | service cores busy | Envoy CPU ms/req | budget store reserve / settle µs | errors |',
  );
  log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    log(
      `| ${r.workers} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.serviceCpuMsPerRequest.toFixed(3)} | ${r.serviceCores.toFixed(2)} | ` +
        `${r.envoyCpuMsPerRequest.toFixed(3)} | ${r.storeLatencyUs.reserve ?? '–'} / ${r.storeLatencyUs.settle ?? '–'} | ${r.errors} |`,
    );
  }
  const base = rows.find((r) => r.workers === 1);
  for (const r of rows) {
    if (!base || r.workers === 1) continue;
    log(
      `\nthroughput ${r.workers} workers vs 1: ×${(r.requestsPerSecond / base.requestsPerSecond).toFixed(2)} (service CPU per request ×${(r.serviceCpuMsPerRequest / base.serviceCpuMsPerRequest).toFixed(2)})`,
    );
  }
  const resultsDir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, settings.quick ? 'workers-quick.json' : 'workers-latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        command,
        nproc: os.availableParallelism(),
        loadBefore,
        loadAfter,
        settings,
        rows,
        measurements,
      },
      null,
      2,
    ) + '\n',
  );
  log(`results: ${path.relative(process.cwd(), file)}`);
  rmSync(workDir, { recursive: true, force: true });
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`workers bench: ${signal}, stopping everything\n`);
    void stopAll().finally(() => process.exit(130));
  });
}
main().catch(async (err: unknown) => {
  process.stderr.write(`workers bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exitCode = 1;
});
