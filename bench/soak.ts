// `npm run bench:soak`: a steady-load soak through a REAL Envoy (the bootstrap `llm-extproc envoy-bootstrap`
// generates) and the real service (its own process), against the mock OpenAI upstream, which never fails. Two
// phases, budgets off then on (memory store, a budget that can never refuse), each with a fresh service and Envoy.
// Counts every failure a client could see (unexpected 5xx, mid-stream resets, truncated SSE, client errors), the
// service's RSS over time, its open ext_proc streams at the end, and Envoy's ext_proc-related counters; prints a
// PASS/FAIL verdict. Bounded: gives up with FAIL after --timeout-min.
//
//   node dist/bench/soak.js [--requests 20000] [--concurrency 64] [--warmup 4000] [--phases off,on]
//        [--sse-every 2] [--chunk-delay-ms 1] [--envoy-workers 1] [--timeout-min 15]
//        [--tap]                         HTTP/2 frame tap between Envoy and the service (bench/h2-tap.ts): how each
//                                        ext_proc stream was closed, RST_STREAM and GOAWAY frames by side and code
//        [--envoy-log FILE] [--envoy-components ext_proc:debug]   Envoy's own log (stderr) to a file
//        [--grpc-trace FILE]             the service child's stderr with GRPC_TRACE=all GRPC_VERBOSITY=DEBUG
//        [--heap-snapshots DIR]          the service's heap after the warm-up and at the end (after a full GC);
//                                        writing one inflates RSS, so the RSS check means nothing then
//        [--extproc-streams-per-connection N|unlimited]   override max_requests_per_connection of the
//                                        llm-extproc cluster (diagnosis: what the connection rotation hides)
//        [--envoy-runtime KEY=VALUE]...  Envoy runtime overrides (a static layer added to the generated bootstrap),
//                                        e.g. envoy.reloadable_features.ext_proc_graceful_grpc_close=true
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProblems, parseConfig } from '../src/config/load.js';
import { buildBootstrap } from '../src/envoyconfig/bootstrap.js';
import { startEnvoy, type RunningEnvoy } from '../src/envoy/process.js';
import { repoRoot } from '../src/util/repo-root.js';
import { startMockOpenAI, type MockOpenAI } from '../test/support/mock-openai.js';
import { runIfEntryPoint } from './entry.js';
import { startH2Tap, type H2Tap, type TapReport } from './h2-tap.js';
import {
  addCounts,
  emptyCounts,
  failureCount,
  runSoakLoad,
  soakConfigYaml,
  SOAK_KEY_ENV,
  SOAK_PROVIDER_KEY,
  SOAK_VIRTUAL_KEY,
  type SoakCounts,
} from './soak-load.js';
import type { FromSoakService, ToSoakService } from './soak-service.js';
import { fieldText } from '../src/envoy/access-log.js';
import { percentile, round } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist*/bench
/**
 * RSS is "flat" when the end value is at most this much above the post-warm-up value. Both values are taken the same
 * way: the service idle (every ext_proc stream closed) right after a full GC (--expose-gc), so neither counts garbage
 * that is merely not yet collected. Mid-load samples (peak, timeline) are printed, not judged: they swing ±20 %.
 * The warm-up (4,000 requests by default) is long enough for RSS to reach its plateau under this load: with 1,000,
 * the allocator was still growing towards it and a flat heap showed +22 % RSS.
 */
const RSS_FLAT_TOLERANCE = 0.2;
const MB = 1024 * 1024;

type Phase = 'off' | 'on';

interface Settings {
  readonly requests: number;
  readonly concurrency: number;
  readonly warmup: number;
  readonly phases: readonly Phase[];
  readonly sseEvery: number;
  readonly chunkDelayMs: number;
  readonly envoyWorkers: number;
  readonly timeoutMin: number;
  readonly tap: boolean;
  readonly envoyLog: string | undefined;
  readonly envoyComponents: string | undefined;
  readonly grpcTrace: string | undefined;
  readonly envoyRuntime: Readonly<Record<string, string | number | boolean>>;
  readonly heapSnapshots: string | undefined;
  /** undefined: as generated; 'unlimited': no max_requests_per_connection; a number: that many. */
  readonly extprocStreamsPerConnection: number | 'unlimited' | undefined;
}

function readSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      requests: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '64' },
      warmup: { type: 'string', default: '4000' },
      phases: { type: 'string', default: 'off,on' },
      'sse-every': { type: 'string', default: '2' },
      'chunk-delay-ms': { type: 'string', default: '1' },
      'envoy-workers': { type: 'string', default: '1' },
      'timeout-min': { type: 'string', default: '15' },
      tap: { type: 'boolean', default: false },
      'envoy-log': { type: 'string' },
      'envoy-components': { type: 'string' },
      'grpc-trace': { type: 'string' },
      'envoy-runtime': { type: 'string', multiple: true },
      'heap-snapshots': { type: 'string' },
      'extproc-streams-per-connection': { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} needs an integer ≥ ${min}`);
    return n;
  };
  const phases = (values.phases ?? '').split(',').map((p) => p.trim());
  for (const p of phases) if (p !== 'off' && p !== 'on') throw new Error(`--phases: '${p}' is not off or on`);
  return {
    requests: int('requests', values.requests, 1),
    concurrency: int('concurrency', values.concurrency, 1),
    warmup: int('warmup', values.warmup, 0),
    phases: phases as Phase[],
    sseEvery: int('sse-every', values['sse-every'], 0),
    chunkDelayMs: int('chunk-delay-ms', values['chunk-delay-ms'], 0),
    envoyWorkers: int('envoy-workers', values['envoy-workers'], 1),
    timeoutMin: int('timeout-min', values['timeout-min'], 1),
    tap: values.tap ?? false,
    envoyLog: values['envoy-log'],
    envoyComponents: values['envoy-components'],
    grpcTrace: values['grpc-trace'],
    heapSnapshots: values['heap-snapshots'],
    extprocStreamsPerConnection:
      values['extproc-streams-per-connection'] === undefined
        ? undefined
        : values['extproc-streams-per-connection'] === 'unlimited'
          ? 'unlimited'
          : int('extproc-streams-per-connection', values['extproc-streams-per-connection'], 1),
    envoyRuntime: Object.fromEntries(
      (values['envoy-runtime'] ?? []).map((pair) => {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`--envoy-runtime ${pair}: expected KEY=VALUE`);
        const raw = pair.slice(eq + 1);
        const value =
          raw === 'true'
            ? true
            : raw === 'false'
              ? false
              : Number.isFinite(Number(raw)) && raw.trim() !== ''
                ? Number(raw)
                : raw;
        return [pair.slice(0, eq), value];
      }),
    ),
  };
}

// ---------------------------------------------------------------- the service child

type Collected = Omit<Extract<FromSoakService, { type: 'collected' }>, 'type'>;

interface ServiceChild {
  readonly child: ChildProcess;
  readonly extprocPort: number;
  readonly adminUrl: string;
  readonly memory: Array<{ at: number; rssBytes: number; heapUsedBytes: number }>;
  /** Full GC in the child, then its memory. */
  collect(): Promise<Collected>;
  heapSnapshot(file: string): Promise<string>;
  close(): Promise<void>;
}

async function startServiceChild(configFile: string, grpcTrace: string | undefined): Promise<ServiceChild> {
  const traceEnv = grpcTrace ? { GRPC_TRACE: 'all', GRPC_VERBOSITY: 'DEBUG' } : {};
  const child = fork(path.join(here, 'soak-service.js'), [configFile], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, [SOAK_KEY_ENV]: SOAK_PROVIDER_KEY, ...traceEnv },
    stdio: ['ignore', 'inherit', grpcTrace ? 'pipe' : 'inherit', 'ipc'],
  });
  let traceFile: WriteStream | undefined;
  if (grpcTrace && child.stderr) {
    traceFile = createWriteStream(grpcTrace);
    child.stderr.pipe(traceFile);
  }
  const memory: ServiceChild['memory'] = [];
  const waiting = new Map<string, (message: FromSoakService) => void>();
  let closed: (() => void) | undefined;
  let failure: string | undefined;
  const ready = new Promise<{ extprocPort: number; adminPort: number }>((resolve, reject) => {
    child.on('message', (message: FromSoakService) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'memory')
        memory.push({ at: message.at, rssBytes: message.rssBytes, heapUsedBytes: message.heapUsedBytes });
      else if (message.type === 'closed') closed?.();
      else if (message.type === 'collected' || message.type === 'snapshot-written')
        waiting.get(message.type)?.(message);
      else if (message.type === 'error') {
        failure = message.message;
        reject(new Error(`service child: ${message.message}`));
      }
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`service child exited (code ${code}, signal ${signal}) ${failure ?? ''}`)),
    );
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let ports: { extprocPort: number; adminPort: number };
  try {
    ports = await ready;
  } finally {
    clearTimeout(timer);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const ask = <T extends FromSoakService['type']>(
    request: ToSoakService,
    answer: T,
  ): Promise<Extract<FromSoakService, { type: T }>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`service child: no '${answer}' within 120 s`)), 120_000);
      waiting.set(answer, (message) => {
        clearTimeout(timer);
        waiting.delete(answer);
        resolve(message as Extract<FromSoakService, { type: T }>);
      });
      child.send(request);
    });
  return {
    child,
    extprocPort: ports.extprocPort,
    adminUrl: `http://127.0.0.1:${ports.adminPort}`,
    memory,
    collect: async () => {
      const { type: _type, ...collected } = await ask({ type: 'gc' }, 'collected');
      return collected;
    },
    heapSnapshot: async (file) => (await ask({ type: 'heap-snapshot', file }, 'snapshot-written')).file,
    close: async () => {
      const gone = new Promise<void>((resolve) => (closed = resolve));
      if (child.connected) child.send({ type: 'close' } satisfies ToSoakService);
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await Promise.race([gone.then(() => exited), exited]);
      clearTimeout(kill);
      await new Promise<void>((resolve) => (traceFile ? traceFile.end(resolve) : resolve()));
    },
  };
}

// ---------------------------------------------------------------- reading the service and Envoy

/** Prometheus samples whose name starts with one of the prefixes: `name{labels}` → value. */
async function serviceMetrics(adminUrl: string, prefixes: readonly string[]): Promise<Map<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !prefixes.some((p) => line.startsWith(p))) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

const ACTIVE_STREAMS = 'llm_extproc_active_streams';

/** Waits (up to timeoutMs) until every stage's active-stream gauge reads 0; returns the last reading. */
async function activeStreamsSettled(
  adminUrl: string,
  timeoutMs: number,
): Promise<{ total: number; byStage: Record<string, number>; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const samples = await serviceMetrics(adminUrl, [ACTIVE_STREAMS]);
    const byStage: Record<string, number> = {};
    for (const [name, value] of samples) byStage[/stage="([^"]+)"/.exec(name)?.[1] ?? name] = value;
    const total = Object.values(byStage).reduce((s, n) => s + n, 0);
    if (total === 0 || Date.now() - started > timeoutMs) return { total, byStage, waitedMs: Date.now() - started };
    await sleep(250);
  }
}

interface EnvoyStat {
  readonly name: string;
  readonly value: number;
}

async function envoyStats(envoy: RunningEnvoy): Promise<EnvoyStat[]> {
  const { body } = await envoy.admin('/stats?format=json');
  const stats = (JSON.parse(body) as { stats?: Array<{ name?: string; value?: number }> }).stats ?? [];
  return stats.filter((s): s is EnvoyStat => typeof s.name === 'string' && typeof s.value === 'number');
}

/** Envoy counters about ext_proc streams, the ext_proc cluster's connections and streams, resets and GOAWAYs. */
function relevantEnvoyStats(stats: readonly EnvoyStat[]): EnvoyStat[] {
  const always = new Set([
    'cluster.llm-extproc.http2.tx_reset',
    'cluster.llm-extproc.http2.rx_reset',
    'cluster.llm-extproc.http2.goaway_sent',
    'cluster.llm-extproc.upstream_cx_close_notify',
    'cluster.llm-extproc.upstream_cx_destroy_remote_with_active_rq',
    'cluster.llm-extproc.upstream_cx_destroy_local_with_active_rq',
    'cluster.llm-extproc.upstream_rq_tx_reset',
    'cluster.llm-extproc.upstream_rq_rx_reset',
    'cluster.llm-extproc.upstream_cx_total',
    'cluster.llm-extproc.upstream_rq_total',
    'http.llm_ingress.downstream_rq_5xx',
    'http.llm_ingress.downstream_rq_rx_reset',
    'http.llm_ingress.downstream_rq_tx_reset',
  ]);
  return stats
    .filter((s) => {
      if (always.has(s.name)) return true;
      if (s.value === 0) return false;
      return (
        s.name.includes('ext_proc') ||
        s.name.startsWith('cluster.llm-extproc.upstream_rq') ||
        s.name.startsWith('cluster.llm-extproc.upstream_cx') ||
        s.name.startsWith('cluster.llm-extproc.http2.') ||
        s.name.startsWith('cluster.llm-extproc.grpc') ||
        s.name.startsWith('cluster.llm-extproc.health_check.') ||
        s.name.startsWith('http.llm_ingress.downstream_rq_') ||
        /reset|goaway|protocol_error|_5xx|timeout/.test(s.name)
      );
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const statValue = (stats: readonly EnvoyStat[], name: string): number => stats.find((s) => s.name === name)?.value ?? 0;

/** Sets (or removes) max_requests_per_connection on the llm-extproc cluster of a generated bootstrap. */
function overrideStreamsPerConnection(bootstrap: object, value: number | 'unlimited'): void {
  type Cluster = {
    name?: string;
    typed_extension_protocol_options?: Record<string, { common_http_protocol_options?: Record<string, unknown> }>;
  };
  const clusters = (bootstrap as { static_resources?: { clusters?: Cluster[] } }).static_resources?.clusters ?? [];
  const cluster = clusters.find((c) => c.name === 'llm-extproc');
  const options = cluster ? Object.values(cluster.typed_extension_protocol_options ?? {})[0] : undefined;
  if (!options)
    throw new Error('--extproc-streams-per-connection: no llm-extproc cluster with protocol options in the bootstrap');
  const common = { ...options.common_http_protocol_options };
  if (value === 'unlimited') delete common.max_requests_per_connection;
  else common.max_requests_per_connection = value;
  options.common_http_protocol_options = common;
}

// ---------------------------------------------------------------- one phase

interface MemoryReport {
  readonly startMb: number;
  readonly postWarmupMb: number;
  readonly peakMb: number;
  readonly endMb: number;
  readonly endHeapMb: number;
  readonly postWarmupHeapMb: number;
  /** (end − post-warm-up) / post-warm-up, RSS. */
  readonly growth: number;
  readonly flat: boolean;
  /** The same for the JS heap after a full GC (what the service really retains). */
  readonly heapGrowth: number;
  /** Heap retained per measured request (bytes): (end − post-warm-up) / requests. */
  readonly perRequestHeapBytes: number;
  /** Where RSS went between the two points (MB): V8's committed heap, external + ArrayBuffers, the rest (native: http2/nghttp2, malloc, code). */
  readonly breakdownMb: {
    readonly heapTotal: [number, number];
    readonly external: [number, number];
    readonly other: [number, number];
  };
  /** RSS (MB) at about every tenth of the measured load. */
  readonly timelineMb: number[];
}

interface PhaseResult {
  readonly phase: Phase;
  readonly warmup: SoakCounts;
  readonly load: SoakCounts;
  readonly memory: MemoryReport;
  readonly activeStreams: { total: number; byStage: Record<string, number>; waitedMs: number };
  readonly serviceMetrics: Record<string, number>;
  readonly envoy: EnvoyStat[];
  readonly accessLog: Record<string, number>;
  readonly budgets: { readonly reservedAtEnd: number; readonly requestsCounted: number } | undefined;
  readonly mockAbortedStreams: number;
  readonly upstreamRequests: number;
  readonly tap: TapReport | undefined;
  readonly checks: Array<{ readonly name: string; readonly ok: boolean; readonly detail: string }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => round(bytes / MB, 1);

async function runPhase(
  phase: Phase,
  settings: Settings,
  mock: MockOpenAI,
  deadline: number,
  firstIndex: number,
): Promise<PhaseResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llm-extproc-soak-'));
  const configFile = path.join(dir, 'config.yaml');
  const yaml = soakConfigYaml(mock.baseUrl, phase === 'on');
  const parsed = parseConfig(yaml);
  if (!parsed.ok) throw new Error(formatProblems('soak config', parsed.problems));
  writeFileSync(configFile, yaml);
  const log = (text: string) => process.stdout.write(`[${phase === 'on' ? 'budgets ON ' : 'budgets OFF'}] ${text}\n`);

  let service: ServiceChild | undefined;
  let envoy: RunningEnvoy | undefined;
  let tap: H2Tap | undefined;
  let envoyLog: WriteStream | undefined;
  try {
    service = await startServiceChild(configFile, settings.grpcTrace ? `${settings.grpcTrace}.${phase}` : undefined);
    if (settings.tap) tap = await startH2Tap({ host: '127.0.0.1', port: service.extprocPort });
    const accessLog: Record<string, number> = {};
    if (settings.envoyLog) envoyLog = createWriteStream(`${settings.envoyLog}.${phase}`);
    const logFile = envoyLog;
    const bootstrap = buildBootstrap(parsed.config, {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      extproc: `127.0.0.1:${tap?.port ?? service.extprocPort}`,
    });
    if (settings.extprocStreamsPerConnection !== undefined)
      overrideStreamsPerConnection(bootstrap, settings.extprocStreamsPerConnection);
    if (Object.keys(settings.envoyRuntime).length > 0) {
      // A last static layer: it overrides whatever runtime the generated bootstrap may carry.
      const doc = bootstrap as Record<string, unknown>;
      const layers = (doc.layered_runtime as { layers?: unknown[] } | undefined)?.layers ?? [];
      doc.layered_runtime = {
        layers: [...layers, { name: 'soak-overrides', static_layer: { ...settings.envoyRuntime } }],
      };
    }
    envoy = await startEnvoy({
      bootstrap: JSON.stringify(bootstrap),
      concurrency: settings.envoyWorkers,
      fileFlushIntervalMs: 1000,
      ...(settings.envoyComponents ? { componentLogLevel: settings.envoyComponents } : {}),
      ...(logFile ? { onLog: (line: string) => logFile.write(line + '\n') } : {}),
      onAccessLog: (line) => {
        if (line.log_type === 'upstream_attempt') {
          const flags = fieldText(line.response_flags, '-');
          if (flags !== '-' || Number(line.response_code) !== 200) {
            const key = `upstream attempt ${String(line.response_code)} ${flags}`;
            accessLog[key] = (accessLog[key] ?? 0) + 1;
          }
          return;
        }
        const key = `${String(line.response_code)} ${String(line.response_code_details)} ${String(line.response_flags)}`;
        accessLog[key] = (accessLog[key] ?? 0) + 1;
      },
    });
    const port = envoy.listenerPorts.get('llm_ingress');
    if (port === undefined) throw new Error('Envoy has no llm_ingress listener');
    const baseUrl = `http://127.0.0.1:${port}/v1`;
    const apiKey = phase === 'on' ? SOAK_VIRTUAL_KEY : 'unused-by-the-gateway';
    const memory = service.memory;
    const latestRss = () => memory.at(-1)?.rssBytes ?? Number.NaN;
    const startRss = latestRss();
    log(
      `service pid ${service.child.pid}, Envoy pid ${envoy.pid} (${settings.envoyWorkers} worker), RSS at start ${mb(startRss)} MB${tap ? `, tap :${tap.port}` : ''}`,
    );

    let upstreamRequests = 0;
    const trimMock = () => {
      // The mock keeps every request it got; the soak only needs the count.
      upstreamRequests += mock.received.length;
      mock.received.splice(0);
    };
    const abortedBefore = mock.abortedStreams;
    const common = { baseUrl, concurrency: settings.concurrency, sseEvery: settings.sseEvery, apiKey, deadline };
    const warmup = await runSoakLoad({ ...common, requests: settings.warmup, firstIndex });
    trimMock();
    log(`warm-up: ${warmup.requests} requests in ${round(warmup.wallMs / 1000, 1)} s, ${failureCount(warmup)} failed`);
    // The reference point: idle after the warm-up, after a full GC (so transient garbage is not counted).
    await activeStreamsSettled(service.adminUrl, 15_000);
    const postWarmup = await service.collect();
    if (settings.heapSnapshots)
      log(
        `heap snapshot: ${await service.heapSnapshot(path.join(settings.heapSnapshots, `soak-${phase}-post-warmup.heapsnapshot`))}`,
      );
    const loadStartIndex = memory.length;
    const started = Date.now();
    const load = await runSoakLoad({
      ...common,
      requests: settings.requests,
      firstIndex: firstIndex + settings.warmup,
      progressEvery: Math.max(1000, Math.round(settings.requests / 10)),
      onProgress: (done) => {
        trimMock();
        const seconds = (Date.now() - started) / 1000;
        log(
          `${done}/${settings.requests} in ${round(seconds, 1)} s (${Math.round(done / seconds)} req/s), RSS ${mb(latestRss())} MB`,
        );
      },
    });
    trimMock();
    const loadEnd = Date.now();
    const activeStreams = await activeStreamsSettled(service.adminUrl, 15_000);
    // The end point, measured the same way: idle, every stream closed, after a full GC.
    const end = await service.collect();
    if (settings.heapSnapshots)
      log(
        `heap snapshot: ${await service.heapSnapshot(path.join(settings.heapSnapshots, `soak-${phase}-end.heapsnapshot`))}`,
      );
    const during = memory.slice(loadStartIndex).filter((m) => m.at <= loadEnd + 1000);
    const peak = Math.max(...during.map((m) => m.rssBytes), end.rssBytes);
    const timelineMb: number[] = [];
    for (let i = 0; i <= 10; i++) {
      const sample = during[Math.min(during.length - 1, Math.round((i / 10) * (during.length - 1)))];
      if (sample) timelineMb.push(mb(sample.rssBytes));
    }
    const growth = (end.rssBytes - postWarmup.rssBytes) / postWarmup.rssBytes;
    const heapGrowth = (end.heapUsedBytes - postWarmup.heapUsedBytes) / postWarmup.heapUsedBytes;
    const memoryReport: MemoryReport = {
      startMb: mb(startRss),
      postWarmupMb: mb(postWarmup.rssBytes),
      peakMb: mb(peak),
      endMb: mb(end.rssBytes),
      postWarmupHeapMb: mb(postWarmup.heapUsedBytes),
      endHeapMb: mb(end.heapUsedBytes),
      growth: round(growth, 3),
      flat: growth <= RSS_FLAT_TOLERANCE,
      heapGrowth: round(heapGrowth, 3),
      perRequestHeapBytes: Math.round((end.heapUsedBytes - postWarmup.heapUsedBytes) / settings.requests),
      breakdownMb: {
        heapTotal: [mb(postWarmup.heapTotalBytes), mb(end.heapTotalBytes)],
        external: [
          mb(postWarmup.externalBytes + postWarmup.arrayBuffersBytes),
          mb(end.externalBytes + end.arrayBuffersBytes),
        ],
        other: [
          mb(postWarmup.rssBytes - postWarmup.heapTotalBytes - postWarmup.externalBytes),
          mb(end.rssBytes - end.heapTotalBytes - end.externalBytes),
        ],
      },
      timelineMb,
    };

    const metricSamples = await serviceMetrics(service.adminUrl, [
      'llm_extproc_requests_total',
      'llm_extproc_errors_total',
      'llm_extproc_stream_failures_total',
      'llm_extproc_budget_refusals_total',
      'llm_extproc_budget_store_errors_total',
      'llm_extproc_budget_fail_open_total',
      'llm_extproc_usage_missing_total',
      ACTIVE_STREAMS,
    ]);
    let budgets: PhaseResult['budgets'];
    if (phase === 'on') {
      // Settles may land a moment after the client has its last byte.
      let views: Array<{ metric: string; window: string; used: number; reserved: number }> = [];
      const until = Date.now() + 10_000;
      do {
        const body = (await (await fetch(`${service.adminUrl}/budgets`)).json()) as { budgets?: typeof views };
        views = body.budgets ?? [];
        if (views.every((v) => v.reserved === 0)) break;
        await sleep(250);
      } while (Date.now() < until);
      budgets = {
        reservedAtEnd: views.reduce((s, v) => s + v.reserved, 0),
        requestsCounted: views.find((v) => v.metric === 'requests' && v.window === 'day')?.used ?? Number.NaN,
      };
    }
    // Envoy's counters once its access log (and its stats) caught up with the last request.
    await sleep(1500);
    const stats = await envoyStats(envoy);
    const tapReport = tap?.report();
    const mockAbortedStreams = mock.abortedStreams - abortedBefore;

    const both = addCounts(warmup, load);
    const clientErrors = Object.values(both.clientErrors).reduce((s, n) => s + n, 0);
    const checks: PhaseResult['checks'] = [
      { name: 'no unexpected 5xx', ok: both.unexpected5xx === 0, detail: String(both.unexpected5xx) },
      { name: 'no other non-200 (no refusal)', ok: both.unexpectedNon200 === 0, detail: String(both.unexpectedNon200) },
      { name: 'no mid-stream resets', ok: both.resets === 0, detail: String(both.resets) },
      {
        name: 'no truncated/wrong bodies',
        ok: both.truncated + both.badBodies === 0,
        detail: `${both.truncated} SSE, ${both.badBodies} JSON`,
      },
      { name: 'no client errors', ok: clientErrors === 0, detail: JSON.stringify(both.clientErrors) },
      { name: 'all requests ran in time', ok: both.notStarted === 0, detail: `${both.notStarted} not started` },
      {
        name: `RSS flat (end ≤ post-warm-up + ${RSS_FLAT_TOLERANCE * 100} %)`,
        ok: memoryReport.flat,
        detail: `${memoryReport.postWarmupMb} → ${memoryReport.endMb} MB (${round(growth * 100, 1)} %)`,
      },
      {
        name: `JS heap after GC flat (end ≤ post-warm-up + ${RSS_FLAT_TOLERANCE * 100} %)`,
        ok: heapGrowth <= RSS_FLAT_TOLERANCE,
        detail: `${memoryReport.postWarmupHeapMb} → ${memoryReport.endHeapMb} MB (${round(heapGrowth * 100, 1)} %)`,
      },
      {
        name: 'llm_extproc_active_streams back to 0',
        ok: activeStreams.total === 0,
        detail: JSON.stringify(activeStreams.byStage),
      },
      {
        name: 'no GOAWAY/close from the service on the ext_proc cluster',
        ok:
          statValue(stats, 'cluster.llm-extproc.upstream_cx_close_notify') === 0 &&
          statValue(stats, 'cluster.llm-extproc.upstream_cx_destroy_remote_with_active_rq') === 0,
        detail: `close_notify ${statValue(stats, 'cluster.llm-extproc.upstream_cx_close_notify')}, destroy_remote_with_active_rq ${statValue(stats, 'cluster.llm-extproc.upstream_cx_destroy_remote_with_active_rq')}`,
      },
      {
        name: 'every upstream stream completed',
        ok: mockAbortedStreams === 0,
        detail: `${mockAbortedStreams} abandoned`,
      },
    ];
    if (budgets)
      checks.push({
        name: 'nothing stays reserved (budgets)',
        ok: budgets.reservedAtEnd === 0,
        detail: `reserved ${budgets.reservedAtEnd}, requests counted ${budgets.requestsCounted}`,
      });
    return {
      phase,
      warmup,
      load,
      memory: memoryReport,
      activeStreams,
      serviceMetrics: Object.fromEntries(metricSamples),
      envoy: relevantEnvoyStats(stats),
      accessLog,
      budgets,
      mockAbortedStreams,
      upstreamRequests,
      tap: tapReport,
      checks,
    };
  } finally {
    await envoy?.stop().catch(() => undefined);
    await service?.close().catch(() => undefined);
    await tap?.close().catch(() => undefined);
    await new Promise<void>((resolve) => (envoyLog ? envoyLog.end(resolve) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- report

function printPhase(r: PhaseResult, settings: Settings): void {
  const out = (line = '') => process.stdout.write(line + '\n');
  const both = addCounts(r.warmup, r.load);
  const lat = [...r.load.latenciesMs].sort((a, b) => a - b);
  out();
  out(`=== phase: budgets ${r.phase.toUpperCase()} ===`);
  out(
    `requests: ${both.requests} (warm-up ${r.warmup.requests} + measured ${r.load.requests}; ${both.json} JSON, ${both.sse} SSE with include_usage), concurrency ${settings.concurrency}`,
  );
  out(
    `measured: ${round(r.load.wallMs / 1000, 1)} s, ${Math.round(r.load.requests / (r.load.wallMs / 1000))} req/s, latency p50 ${round(percentile(lat, 50), 1)} ms p99 ${round(percentile(lat, 99), 1)} ms max ${round(lat.at(-1) ?? Number.NaN, 1)} ms`,
  );
  out(`status histogram: ${JSON.stringify(both.statuses)}`);
  out(
    `unexpected 5xx: ${both.unexpected5xx}   other non-200: ${both.unexpectedNon200}   mid-stream resets: ${both.resets}   truncated SSE: ${both.truncated}   bad JSON bodies: ${both.badBodies}`,
  );
  out(`client errors: ${JSON.stringify(both.clientErrors)}   not started (time limit): ${both.notStarted}`);
  for (const e of both.examples) out(`  example [${e.kind}] #${e.index} ${e.stream ? 'SSE' : 'JSON'}: ${e.detail}`);
  out(`upstream (mock): ${r.upstreamRequests} requests, ${r.mockAbortedStreams} streams abandoned by the proxy`);
  const m = r.memory;
  out(
    `service RSS: start ${m.startMb} MB, post-warm-up ${m.postWarmupMb} MB, peak ${m.peakMb} MB, end ${m.endMb} MB (${m.growth >= 0 ? '+' : ''}${round(m.growth * 100, 1)} % vs post-warm-up; flat = ≤ +${RSS_FLAT_TOLERANCE * 100} %: ${m.flat ? 'yes' : 'NO'})`,
  );
  out(
    `JS heap after full GC: post-warm-up ${m.postWarmupHeapMb} MB, end ${m.endHeapMb} MB (${m.heapGrowth >= 0 ? '+' : ''}${round(m.heapGrowth * 100, 1)} %, ${m.perRequestHeapBytes} B retained per measured request)`,
  );
  const b = m.breakdownMb;
  out(
    `RSS post-warm-up → end, by kind (MB): V8 heap committed ${b.heapTotal[0]} → ${b.heapTotal[1]}, external ${b.external[0]} → ${b.external[1]}, other (native) ${b.other[0]} → ${b.other[1]}`,
  );
  out(`RSS timeline under load (MB, every tenth of the measured load): ${m.timelineMb.join(' ')}`);
  out(
    `llm_extproc_active_streams at the end: ${JSON.stringify(r.activeStreams.byStage)} (waited ${r.activeStreams.waitedMs} ms)`,
  );
  out('service metrics:');
  for (const [name, value] of Object.entries(r.serviceMetrics)) out(`  ${name} ${value}`);
  if (r.budgets)
    out(`budgets: reserved at the end ${r.budgets.reservedAtEnd}, requests counted ${r.budgets.requestsCounted}`);
  out('Envoy access log (non-200 / flagged):');
  const notOk = Object.entries(r.accessLog).filter(([k]) => !k.startsWith('200 via_upstream -'));
  if (notOk.length === 0) out('  (none)');
  for (const [k, v] of notOk) out(`  ${k}: ${v}`);
  out('Envoy stats (ext_proc filters, llm-extproc cluster, resets, GOAWAY; zeros shown only for the key ones):');
  for (const s of r.envoy) out(`  ${s.name} ${s.value}`);
  if (r.tap) {
    const t = r.tap;
    out(`HTTP/2 tap (Envoy ↔ service): ${t.connections} connection(s), ${t.streams} streams`);
    out(
      `  RST_STREAM: ${JSON.stringify(t.resets)}   GOAWAY: ${t.goaways.length ? JSON.stringify(t.goaways) : 'none'}   PING: ${JSON.stringify(t.pings)}`,
    );
    out(`  frames: ${JSON.stringify(t.frames)}`);
    out('  how streams closed (order of closing frames):');
    for (const [pattern, n] of Object.entries(t.closePatterns).sort((a, b) => b[1] - a[1])) out(`    ${n}× ${pattern}`);
    out("  by groups of connections that closed streams alike (Envoy's gRPC health checker has its own connection):");
    for (const g of t.connectionGroups) {
      const parts = Object.entries(g.closePatterns)
        .sort((a, b) => b[1] - a[1])
        .map(([pattern, n]) => `${n}× ${pattern}`);
      out(`    ${g.connections} connection(s): ${parts.join('; ')}`);
    }
    if (t.resetDelayMs.count)
      out(
        `  Envoy RST_STREAM after the stream's previous closing event: p50 ${t.resetDelayMs.p50} ms, p99 ${t.resetDelayMs.p99} ms, max ${t.resetDelayMs.max} ms`,
      );
  }
  out('checks:');
  for (const c of r.checks) out(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
}

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2));
  const startedAt = Date.now();
  const deadline = startedAt + settings.timeoutMin * 60_000;
  // Hard stop: a hung phase must not outlive the bound (a minute of grace for cleanup).
  const watchdog = setTimeout(
    () => {
      process.stdout.write(
        `\nVERDICT: FAIL (time limit of ${settings.timeoutMin} min exceeded; the soak was killed)\n`,
      );
      process.exit(1);
    },
    deadline - startedAt + 60_000,
  );
  watchdog.unref();
  process.stdout.write(
    `soak: ${settings.phases.length} phase(s) [budgets ${settings.phases.join(', ')}], each ${settings.warmup} warm-up + ${settings.requests} measured requests at concurrency ${settings.concurrency}; ` +
      `${settings.sseEvery > 0 ? `1 in ${settings.sseEvery} SSE` : 'JSON only'}; mock chunk delay ${settings.chunkDelayMs} ms; Node ${process.version}, ${os.cpus().length} CPUs, load ${os
        .loadavg()
        .map((l) => round(l, 2))
        .join(' ')}; limit ${settings.timeoutMin} min` +
      `${Object.keys(settings.envoyRuntime).length ? `; Envoy runtime overrides ${JSON.stringify(settings.envoyRuntime)}` : '; Envoy runtime: defaults'}` +
      `${settings.extprocStreamsPerConnection !== undefined ? `; llm-extproc max_requests_per_connection: ${settings.extprocStreamsPerConnection}` : ''}\n`,
  );
  const mock = await startMockOpenAI({ apiKey: SOAK_PROVIDER_KEY });
  mock.chunkDelayMs = settings.chunkDelayMs;
  const results: PhaseResult[] = [];
  try {
    let firstIndex = 0;
    for (const phase of settings.phases) {
      const result = await runPhase(phase, settings, mock, deadline, firstIndex);
      firstIndex += settings.warmup + settings.requests;
      results.push(result);
      printPhase(result, settings);
    }
  } catch (err) {
    process.stdout.write(
      `\nVERDICT: FAIL (the soak could not run to its end: ${err instanceof Error ? err.message : String(err)})\n`,
    );
    throw err;
  } finally {
    await mock.close();
    clearTimeout(watchdog);
  }
  const total = results.reduce((acc, r) => addCounts(acc, addCounts(r.warmup, r.load)), emptyCounts());
  const failedChecks = results.flatMap((r) =>
    r.checks.filter((c) => !c.ok).map((c) => `budgets ${r.phase}: ${c.name} (${c.detail})`),
  );
  const minutes = round((Date.now() - startedAt) / 60_000, 1);
  const resultsDir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'soak-latest.json'),
    JSON.stringify(
      {
        settings,
        minutes,
        results: results.map((r) => ({
          ...r,
          warmup: { ...r.warmup, latenciesMs: undefined },
          load: { ...r.load, latenciesMs: undefined },
        })),
      },
      null,
      2,
    ),
  );
  process.stdout.write(
    `\ntotal: ${total.requests} requests in ${minutes} min; statuses ${JSON.stringify(total.statuses)}; unexpected 5xx ${total.unexpected5xx}; resets ${total.resets}; truncated ${total.truncated + total.badBodies}; client errors ${JSON.stringify(total.clientErrors)}\n`,
  );
  process.stdout.write(failedChecks.length === 0 ? 'VERDICT: PASS\n' : `VERDICT: FAIL — ${failedChecks.join('; ')}\n`);
  if (failedChecks.length > 0) process.exitCode = 1;
  clearTimeout(watchdog);
}

runIfEntryPoint(import.meta.url, 'soak', main);
