// `npm run bench:peers`: llm-extproc behind a real Envoy against Envoy alone and two peer gateways (Portkey, LiteLLM),
// side by side in one run, all in front of the same mock upstreams. Added latency over the direct path and CPU per
// request of every process involved (from /proc), JSON and SSE, at concurrency 1 and 32, interleaved rounds, medians.
//
//   node dist/bench/peers.js [--quick] [--rounds N] [--seconds S] [--concurrency 1,32] [--only …]   (see --help)
//
// Processes: this orchestrator (starts everything, reads /proc, never sends load), the mock upstreams (one Node
// child), the load generator (one Node child), and per path its gateway processes. A path that cannot be installed
// or started is reported with its exact error; the others are measured all the same. Everything started is stopped
// at the end, on error and on Ctrl-C. Results: a markdown table on stdout and bench/results/peers-latest.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envoyBinary } from '../src/envoy/binary.js';
import { repoRoot } from '../src/util/repo-root.js';
import { checkResponse } from './peers/check.js';
import { killAllNow, stopAll } from './peers/children.js';
import type { LoadJob } from './peers/ipc.js';
import { LoadGenerator, startMockUpstreams } from './peers/drivers.js';
import { treeCpuMs } from './peers/proc.js';
import { markdownTable, summarise, verdicts, type Failure, type Measurement } from './peers/report.js';
import { parseSettings, UsageError, type Cell, type PeersSettings } from './peers/settings.js';
import {
  PATH_LABELS,
  ROLES,
  directPaths,
  startEnvoyAlone,
  startExtproc,
  startLitellm,
  startPortkey,
  type BenchPath,
  type PathId,
  type Role,
  type StartContext,
} from './peers/targets.js';
import { percentile, round } from './stats.js';
import { REQUEST_BODY_JSON } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/bench
const distRoot = path.dirname(here);

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function log(line: string): void {
  process.stdout.write(line + '\n');
}

function envoyVersion(binary: string): string {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 }).stdout ?? '';
  const match = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(out);
  return `Envoy ${match?.[1] ?? 'unknown version'}`;
}

/** One probe per payload before any timing: a path that answers wrongly is reported, never timed. */
async function validate(load: LoadGenerator, p: BenchPath): Promise<string> {
  const notes: string[] = [];
  for (const payload of ['json', 'sse'] as const) {
    const stream = payload === 'sse';
    const answer = await load.probe(p.url, p.headers, p.bodies[payload]);
    const problem = checkResponse(p.expect, stream, answer.status, answer.body);
    if (problem) throw new Error(`${payload.toUpperCase()} probe: ${problem}`);
    if (stream) {
      const events = answer.body.split('\n\n').filter((e) => e.includes('data:')).length;
      if (events < 3) throw new Error(`SSE probe: only ${events} events`);
      notes.push(`SSE ${events} events, ${answer.body.length} B`);
    } else {
      const body = JSON.parse(answer.body) as {
        choices?: Array<{ message?: { content?: string } }>;
        content?: Array<{ text?: string }>;
      };
      const text = p.expect === 'openai' ? body.choices?.[0]?.message?.content : body.content?.[0]?.text;
      if (!text) throw new Error(`JSON probe: no completion text in ${answer.body.slice(0, 300)}`);
      notes.push(`JSON ${answer.body.length} B`);
    }
  }
  return notes.join(', ');
}

async function measure(
  load: LoadGenerator,
  p: BenchPath,
  cell: Cell,
  settings: PeersSettings,
  roundNo: number,
  warmupMs: number,
  durationMs: number,
): Promise<Measurement> {
  if (interrupted) throw new Error('interrupted');
  const roles = ROLES.filter((r) => p.pids[r] !== undefined);
  const roots = [...new Set([...roles.map((r) => p.pids[r]!), load.pid])];
  let before = new Map<number, number>();
  const job: LoadJob = {
    url: p.url,
    headers: p.headers,
    body: p.bodies[cell.payload],
    stream: cell.payload === 'sse',
    expect: p.expect,
    concurrency: cell.concurrency,
    warmupMs,
    durationMs,
    maxRequests: settings.maxRequests,
    minRequests: roundNo > 0 ? Math.max(settings.minRequests, 3 * cell.concurrency) : 0, // round 0: the warm-up
  };
  const result = await load.run(job, () => (before = treeCpuMs(roots)));
  const after = treeCpuMs(roots);
  const ok = result.latenciesMs.length;
  const delta = (pid: number) => (after.get(pid) ?? 0) - (before.get(pid) ?? 0);
  const cpuMsPerRequest: Partial<Record<Role, number>> = {};
  for (const role of roles) cpuMsPerRequest[role] = ok > 0 ? delta(p.pids[role]!) / ok : Number.NaN;
  return {
    round: roundNo,
    path: p.id,
    payload: cell.payload,
    concurrency: cell.concurrency,
    requests: result.requests,
    errors: result.errors,
    firstError: result.firstError,
    p50Ms: percentile(result.latenciesMs, 50),
    p99Ms: percentile(result.latenciesMs, 99),
    requestsPerSecond: (ok * 1000) / result.wallMs,
    cpuMsPerRequest,
    clientCpuMsPerRequest: ok > 0 ? delta(load.pid) / ok : Number.NaN,
  };
}

function estimateSeconds(s: PeersSettings, paths: number): number {
  return paths * s.cells.length * (s.warmupSeconds + s.rounds * (s.seconds + s.prewarmSeconds));
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2), process.env);
  const started = Date.now();
  const machine = {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverageBefore: os.loadavg().map((l) => round(l, 2)),
    loadAverageAfter: [] as number[],
  };
  const command =
    `node ${path.relative(process.cwd(), process.argv[1] ?? 'dist/bench/peers.js')} ${process.argv.slice(2).join(' ')}`.trim();
  log(`# llm-extproc peers bench${settings.quick ? ' (--quick: smoke test, not a result)' : ''}`);
  log(`command: ${command}`);
  log(
    `machine: nproc ${machine.nproc} (${machine.cpuModel}), ${machine.memoryGb} GB, ${machine.platform}, node ${machine.node}`,
  );
  log(`load average before: ${machine.loadAverageBefore.join(' ')}`);
  log(
    `plan: ${settings.rounds} interleaved round(s) × ${settings.cells.length} cells (${settings.cells.map((c) => `${c.payload}/c${c.concurrency}`).join(', ')}) × ` +
      `${settings.paths.length} paths; ${settings.seconds} s measured + ${settings.prewarmSeconds} s pre-warm per measurement, ${settings.warmupSeconds} s warm-up per path and cell ` +
      `(≈ ${Math.round(estimateSeconds(settings, settings.paths.length) / 60)} min of load, plus start-up)`,
  );
  log(
    `request: ${REQUEST_BODY_JSON.length} B chat request (bench/fixtures.ts); mock SSE: ${settings.sseChunks + 2} chunks + [DONE]\n`,
  );

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'llm-extproc-peers-'));
  const failures: Failure[] = [];
  const measurements: Measurement[] = [];
  const notes = new Map<PathId, string>();
  const paths: BenchPath[] = [];
  let budgetsSnapshot: string | undefined;
  const envoyAnomalies: string[] = [];

  // Hard bound on the whole run, whatever hangs.
  const watchdogMs = (estimateSeconds(settings, settings.paths.length) * 2 + 15 * 60) * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(
      `peers bench: still running after ${Math.round(watchdogMs / 60000)} min; stopping everything\n`,
    );
    void stopAll().finally(() => process.exit(1));
  }, watchdogMs);
  watchdog.unref();

  let load: LoadGenerator | undefined;
  try {
    const mock = await startMockUpstreams(settings.sseChunks);
    load = new LoadGenerator();
    const ctx: StartContext = { workDir, distRoot, mock };
    const envoy = envoyVersion(await envoyBinary());

    const want = (id: PathId) => settings.paths.includes(id);
    const starters: Array<{ ids: PathId[]; start: () => Promise<BenchPath[]> }> = [
      { ids: ['direct', 'direct-anthropic'], start: async () => directPaths(ctx) },
      { ids: ['envoy'], start: async () => [await startEnvoyAlone(ctx, envoy)] },
      { ids: ['extproc', 'extproc-anthropic'], start: () => startExtproc(ctx, envoy) },
      {
        // How users run it on a 2-core machine: 2 ext_proc workers, 2 Envoy threads (one ext_proc connection each).
        ids: ['extproc-2w'],
        start: async () =>
          (await startExtproc(ctx, envoy, { workers: 2, envoyConcurrency: 2 }))
            .filter((p) => p.id === 'extproc')
            .map((p) => ({ ...p, id: 'extproc-2w' as const })),
      },
      { ids: ['portkey'], start: async () => [await startPortkey(ctx)] },
      { ids: ['litellm'], start: async () => [await startLitellm(ctx)] },
    ];
    for (const { ids, start } of starters) {
      if (!ids.some(want)) continue;
      const t0 = Date.now();
      try {
        const got = (await start()).filter((p) => want(p.id));
        for (const p of got) {
          try {
            const probe = await validate(load, p);
            paths.push(p);
            notes.set(p.id, p.note);
            log(`ready: ${PATH_LABELS[p.id]} — ${p.note}; probe ${probe} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          } catch (err) {
            failures.push({ path: p.id, error: `answered wrongly: ${errorText(err)}` });
            log(`FAILED: ${PATH_LABELS[p.id]}: answered wrongly: ${errorText(err)}`);
          }
        }
      } catch (err) {
        for (const id of ids.filter(want)) failures.push({ path: id, error: errorText(err) });
        log(
          `FAILED to start ${ids
            .filter(want)
            .map((id) => PATH_LABELS[id])
            .join(' and ')}:\n${errorText(err)}`,
        );
      }
    }
    if (paths.length === 0) throw new Error('no path could be started');

    log(`\nwarm-up: ${settings.warmupSeconds} s per path and cell`);
    for (const cell of settings.cells) {
      for (const p of paths) {
        try {
          const m = await measure(load, p, cell, settings, 0, 0, settings.warmupSeconds * 1000);
          if (m.errors > 0)
            log(
              `  warm-up ${p.id} ${cell.payload}/c${cell.concurrency}: ${m.errors} errors (first: ${m.firstError ?? '?'})`,
            );
        } catch (err) {
          log(`  warm-up ${p.id} ${cell.payload}/c${cell.concurrency}: ${errorText(err)}`);
        }
      }
    }

    for (let r = 1; r <= settings.rounds; r++) {
      log(`\nround ${r}/${settings.rounds}`);
      for (const cell of settings.cells) {
        for (const p of paths) {
          try {
            const m = await measure(
              load,
              p,
              cell,
              settings,
              r,
              settings.prewarmSeconds * 1000,
              settings.seconds * 1000,
            );
            measurements.push(m);
            const cpu = ROLES.filter((role) => m.cpuMsPerRequest[role] !== undefined)
              .map((role) => `${role} ${m.cpuMsPerRequest[role]!.toFixed(3)}`)
              .join(', ');
            log(
              `  ${cell.payload}/c${String(cell.concurrency).padEnd(3)} ${p.id.padEnd(18)} ${String(m.requests).padStart(6)} req  p50 ${m.p50Ms.toFixed(2).padStart(7)} ms  p99 ${m.p99Ms.toFixed(2).padStart(8)} ms  ` +
                `CPU ms/req: ${cpu}${m.errors > 0 ? `  ERRORS ${m.errors}: ${m.firstError ?? ''}` : ''}`,
            );
          } catch (err) {
            log(`  ${cell.payload}/c${cell.concurrency} ${p.id}: measurement failed: ${errorText(err)}`);
            measurements.push({
              round: r,
              path: p.id,
              payload: cell.payload,
              concurrency: cell.concurrency,
              requests: 0,
              errors: 1,
              firstError: errorText(err),
              p50Ms: Number.NaN,
              p99Ms: Number.NaN,
              requestsPerSecond: 0,
              cpuMsPerRequest: {},
              clientCpuMsPerRequest: Number.NaN,
            });
          }
        }
      }
    }

    const anomalies = paths.find((p) => p.anomalies)?.anomalies?.() ?? [];
    if (anomalies.length > 0) envoyAnomalies.push(...anomalies);

    // Budgets were on for the llm-extproc paths: show that they counted the requests.
    const extproc = paths.find((p) => p.adminUrl !== undefined);
    if (extproc?.adminUrl) {
      budgetsSnapshot = await fetch(`${extproc.adminUrl}/budgets`, { signal: AbortSignal.timeout(5000) })
        .then((res) => res.text())
        .catch((err: unknown) => `unavailable: ${errorText(err)}`);
    }
  } finally {
    load?.exit();
    await stopAll();
    clearTimeout(watchdog);
  }

  if (interrupted) throw new Error('interrupted: no results written');
  machine.loadAverageAfter = os.loadavg().map((l) => round(l, 2));
  const elapsedS = (Date.now() - started) / 1000;
  const rows = summarise(measurements, settings.cells, settings.paths);
  const highConcurrency = Math.max(...settings.cells.map((c) => c.concurrency));
  const verdictList = verdicts(rows, highConcurrency);

  log(`\n## Results: medians of ${settings.rounds} round(s); ${elapsedS.toFixed(0)} s in all\n`);
  log(
    `machine: nproc ${machine.nproc} (${machine.cpuModel}); load average before ${machine.loadAverageBefore.join(' ')}, after ${machine.loadAverageAfter.join(' ')}`,
  );
  log('latency: whole response (the whole stream for SSE), ms; added = minus the direct path to the same mock;');
  log('CPU: ms per request from /proc/<pid>/stat (utime+stime, children included) of each process on the path;');
  log(
    '     gateway = all but the mock (Envoy + llm-extproc, or the peer); all = gateway + mock; the load generator is not counted.\n',
  );
  log(markdownTable(rows, failures, settings.cells));
  log('');
  for (const [id, note] of notes) log(`- ${PATH_LABELS[id]}: ${note}`);
  log('');
  for (const v of verdictList) log(v.text);
  if (failures.length > 0) {
    log('\nNot measured:');
    for (const f of failures) log(`- ${PATH_LABELS[f.path]}: ${f.error}`);
  }
  const errored = rows.filter((r) => r.errors > 0);
  for (const r of errored)
    log(`errors on ${PATH_LABELS[r.path]} ${r.payload}/c${r.concurrency}: ${r.errors} (first: ${r.firstError ?? '?'})`);
  if (envoyAnomalies.length > 0)
    log(
      `Envoy (llm-extproc) access log, lines whose response code was not 200 (count × fields):\n  ${envoyAnomalies.join('\n  ')}`,
    );
  if (budgetsSnapshot !== undefined)
    log(
      `\nllm-extproc /budgets after the run (budgets were on): ${budgetsSnapshot.replace(/\s+/g, ' ').slice(0, 400)}`,
    );

  const resultsDir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, settings.quick ? 'peers-quick.json' : 'peers-latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        command,
        elapsedS: round(elapsedS, 1),
        machine,
        settings,
        notes: Object.fromEntries(notes),
        failures,
        envoyAnomalies,
        verdicts: verdictList,
        rows,
        measurements,
      },
      (_key, value: unknown) => (typeof value === 'number' ? round(value, 4) : value),
      2,
    ) + '\n',
  );
  log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (failures.length === 0) rmSync(workDir, { recursive: true, force: true });
  else log(`configs and logs of the failed paths: ${workDir}`);
}

let interrupted = false;
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`peers bench: ${signal}, stopping everything\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  if (err instanceof UsageError) {
    (err.help ? process.stdout : process.stderr).write(err.message + '\n');
    process.exitCode = err.help ? 0 : 2;
    return;
  }
  process.stderr.write(`peers bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exitCode = 1;
});
