// `node dist/bench/latency.js`: where the added latency of Envoy + llm-extproc goes at concurrency 1. One
// llm-extproc service (the peers bench's config: budgets on, 1 worker) behind several Envoys, each started from the
// generated bootstrap with parts taken out, next to Envoy alone and the direct path; interleaved rounds of c=1 JSON,
// medians. Besides the client's latency: Envoy's own per-phase ext_proc latency (the filter's logging info, read
// through the access log), the service's busy time per stream (its /metrics), its event-loop delay and GC pauses
// (bench/latency-probe.ts, preloaded), and CPU per request of Envoy and the service (/proc).
//
//   node dist/bench/latency.js [--rounds 3] [--seconds 4] [--concurrency 1] [--variants a,b,…]
//                              [--service-node-options '…'] [--before-dist /copy/of/an/older/dist]
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { startEnvoy } from '../src/envoy/process.js';
import type { JsonObject } from '../src/util/json.js';
import { register, stopAll } from './peers/children.js';
import { LoadGenerator, startMockUpstreams } from './peers/drivers.js';
import { envoyAloneBootstrap, ENVOY_ALONE_LISTENER } from './peers/envoy-alone.js';
import { treeCpuMs } from './peers/proc.js';
import {
  directPaths,
  extprocBootstrap,
  startExtprocService,
  VIRTUAL_KEY,
  type ExtprocService,
} from './peers/targets.js';
import { median, percentile, round } from './stats.js';
import { REQUEST_BODY_JSON } from './fixtures.js';
import { SERVICE_NODE_FLAGS } from '../src/workers/node-flags.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/bench

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

type Edit = (bootstrap: Bootstrap) => void;

interface Bootstrap {
  static_resources: { listeners: JsonObject[]; clusters: JsonObject[] };
}

function hcmOf(b: Bootstrap): JsonObject & { http_filters: JsonObject[]; route_config: JsonObject } {
  const chain = (
    b.static_resources.listeners[0] as { filter_chains: Array<{ filters: Array<{ typed_config: never }> }> }
  ).filter_chains[0]!;
  return chain.filters[0]!.typed_config;
}

function llmClusters(b: Bootstrap): JsonObject[] {
  return b.static_resources.clusters.filter((c) => typeof c.name === 'string' && c.name.startsWith('llm.'));
}

function upstreamOptions(c: JsonObject): { http_filters: JsonObject[] } {
  const options = c.typed_extension_protocol_options as Record<string, { http_filters: JsonObject[] }>;
  return Object.values(options)[0]!;
}

const EDITS: Record<string, Edit> = {
  noAccessLog: (b) => {
    const hcm = hcmOf(b);
    delete hcm.access_log;
    for (const f of hcm.http_filters)
      if (f.name === 'envoy.filters.http.router') delete (f.typed_config as JsonObject).upstream_log;
  },
  noHealthChecks: (b) => {
    for (const c of b.static_resources.clusters) delete c.health_checks;
  },
  noUpstreamStage: (b) => {
    for (const c of llmClusters(b)) {
      const o = upstreamOptions(c);
      o.http_filters = o.http_filters.filter((f) => f.name !== 'envoy.filters.http.ext_proc');
    }
  },
  routeWithoutHeader: (b) => {
    const vhost = (hcmOf(b).route_config as { virtual_hosts: Array<{ routes: Array<{ match: JsonObject }> }> })
      .virtual_hosts[0]!;
    delete vhost.routes[0]!.match.headers;
  },
  noRouterStage: (b) => {
    const hcm = hcmOf(b);
    hcm.http_filters = hcm.http_filters.filter((f) => f.name !== 'envoy.filters.http.ext_proc');
    // Without the router stage nothing sets the route header: the first model route takes every request.
    const vhost = (hcm.route_config as { virtual_hosts: Array<{ routes: Array<{ match: JsonObject }> }> })
      .virtual_hosts[0]!;
    delete vhost.routes[0]!.match.headers;
  },
  noGrpcRetry: (b) => {
    const filters = [
      ...hcmOf(b).http_filters,
      ...llmClusters(b).flatMap((c) => upstreamOptions(c).http_filters),
    ].filter((f) => f.name === 'envoy.filters.http.ext_proc');
    for (const f of filters) delete ((f.typed_config as JsonObject).grpc_service as JsonObject).retry_policy;
  },
  noRetries: (b) => {
    const vhost = (hcmOf(b).route_config as { virtual_hosts: Array<{ routes: Array<{ route?: JsonObject }> }> })
      .virtual_hosts[0]!;
    for (const r of vhost.routes) if (r.route) delete r.route.retry_policy;
  },
  noOutlierDetection: (b) => {
    for (const c of llmClusters(b)) delete c.outlier_detection;
  },
  // Both stages' bodies in FULL_DUPLEX_STREAMED: Envoy sends headers and body without waiting for the headers' answer.
  fullDuplex: (b) => {
    const filters = [
      ...hcmOf(b).http_filters,
      ...llmClusters(b).flatMap((c) => upstreamOptions(c).http_filters),
    ].filter((f) => f.name === 'envoy.filters.http.ext_proc');
    for (const f of filters) {
      const typed = f.typed_config as JsonObject & { processing_mode: JsonObject };
      const mode = typed.processing_mode;
      mode.request_body_mode = 'FULL_DUPLEX_STREAMED';
      mode.request_trailer_mode = 'SEND';
      if (mode.response_body_mode !== 'NONE') {
        mode.response_body_mode = 'FULL_DUPLEX_STREAMED';
        mode.response_trailer_mode = 'SEND';
      }
      typed.allow_mode_override = false;
    }
  },
  // The upstream stage without its response-headers phase (6 messages instead of 7).
  noUpstreamResponseHeaders: (b) => {
    for (const c of llmClusters(b))
      for (const f of upstreamOptions(c).http_filters)
        if (f.name === 'envoy.filters.http.ext_proc')
          ((f.typed_config as JsonObject).processing_mode as JsonObject).response_header_mode = 'SKIP';
  },
  // Envoy's per-phase ext_proc latencies, through the access log (measurement only; adds its own cost).
  phaseLog: (b) => {
    const hcm = hcmOf(b);
    const fields = [
      'request_header_latency_us',
      'request_body_total_latency_us',
      'response_header_latency_us',
      'response_body_total_latency_us',
    ];
    hcm.access_log = [
      {
        name: 'envoy.access_loggers.stdout',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
          log_format: {
            json_format: {
              log_type: 'phases',
              duration_us: '%DURATION%',
              ...Object.fromEntries(
                fields.map((f) => [`router_${f}`, `%FILTER_STATE(envoy.filters.http.ext_proc:FIELD:${f})%`]),
              ),
              upstream_rq_ms: '%RESPONSE_DURATION%',
            },
          },
        },
      },
    ];
  },
};

const VARIANTS: Record<string, readonly string[]> = {
  shipped: [],
  'no-access-log': ['noAccessLog'],
  'no-health-checks': ['noHealthChecks'],
  'no-log-no-hc': ['noAccessLog', 'noHealthChecks'],
  'no-log-no-hc-no-grpc-retry': ['noAccessLog', 'noHealthChecks', 'noGrpcRetry'],
  'router-stage-only': ['noAccessLog', 'noHealthChecks', 'noUpstreamStage'],
  'no-ext_proc': ['noAccessLog', 'noHealthChecks', 'noUpstreamStage', 'noRouterStage'],
  'no-ext_proc-no-retries': [
    'noAccessLog',
    'noHealthChecks',
    'noUpstreamStage',
    'noRouterStage',
    'noRetries',
    'noOutlierDetection',
  ],
  'phase-log': ['noHealthChecks', 'phaseLog'],
  // The same two ext_proc filters and 7 messages, answered by a CONTINUE-only server (bench/floor.ts): the floor.
  'continue-only-floor': ['noHealthChecks', 'routeWithoutHeader'],
  // The same floor with both stages' bodies in FULL_DUPLEX_STREAMED (the floor server echoes bodies).
  'continue-only-floor-duplex': ['noHealthChecks', 'routeWithoutHeader', 'fullDuplex'],
  // The floor without the upstream stage's response-headers phase: what dropping it would save.
  'continue-only-floor-6-messages': ['noHealthChecks', 'routeWithoutHeader', 'noUpstreamResponseHeaders'],
  // The floor reached over a Unix socket instead of loopback TCP.
  'continue-only-floor-uds': ['noHealthChecks', 'routeWithoutHeader'],
  // The floor over node:http2 without grpc-js (same codec): what grpc-js costs.
  'continue-only-floor-http2': ['noHealthChecks', 'routeWithoutHeader'],
};

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly pids: readonly number[];
  readonly phases?: Array<Record<string, unknown>>;
}

interface Row {
  latency: number[];
  p50: number[];
  p99: number[];
  cpuEnvoy: number[];
  cpuService: number[];
  probes: string[];
}

async function startFloor(transport: 'grpc-js' | 'http2', unixSocket?: string): Promise<{ port: number; pid: number }> {
  const child = fork(path.join(here, 'latency-floor.js'), unixSocket ? [transport, unixSocket] : [transport], {
    execArgv: [...SERVICE_NODE_FLAGS],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  register('continue-only floor', child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`floor server exited (${code})`)));
  });
  return { port, pid: child.pid ?? -1 };
}

async function main(): Promise<void> {
  const rounds = Number(flag('rounds', '3'));
  const seconds = Number(flag('seconds', '4'));
  const concurrency = Number(flag('concurrency', '1'));
  const wanted = flag('variants', Object.keys(VARIANTS).join(',')).split(',');
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'llm-extproc-latency-'));
  const probeFile = path.join(workDir, 'probe.json');
  const mock = await startMockUpstreams(50);
  const load = new LoadGenerator();
  const ctx = { workDir, distRoot: path.dirname(here), mock };
  const probeEnv = (file: string) => ({
    LATENCY_PROBE_FILE: file,
    ...(process.env.LATENCY_PROBE_V8_FLAGS ? { LATENCY_PROBE_V8_FLAGS: process.env.LATENCY_PROBE_V8_FLAGS } : {}),
    ...(process.env.LATENCY_PROBE_PROFILE ? { LATENCY_PROBE_PROFILE: process.env.LATENCY_PROBE_PROFILE } : {}),
    NODE_OPTIONS: `--import ${pathToFileURL(path.join(here, 'latency-probe.js')).href} ${flag('service-node-options', '')}`,
  });
  const service = await startExtprocService(ctx, 1, probeEnv(probeFile));
  const direct = directPaths(ctx)[0]!;
  const targets: Target[] = [{ name: 'direct', url: direct.url, headers: direct.headers, pids: [mock.pid] }];
  const alone = await startEnvoy({ bootstrap: JSON.stringify(envoyAloneBootstrap(mock.openaiPort)) });
  targets.push({
    name: 'envoy-alone',
    url: `http://127.0.0.1:${alone.listenerPorts.get(ENVOY_ALONE_LISTENER)}/v1/chat/completions`,
    headers: direct.headers,
    pids: [mock.pid, alone.pid],
  });
  const stops = [() => alone.stop()];
  const addVariant = async (name: string, svc: ExtprocService, shipped: Bootstrap, edits: readonly string[]) => {
    const bootstrap = structuredClone(shipped);
    for (const e of edits) EDITS[e]!(bootstrap);
    const phases: Array<Record<string, unknown>> = [];
    const envoy = await startEnvoy({
      bootstrap: JSON.stringify(bootstrap),
      onAccessLog: (entry) => {
        if (entry.log_type === 'phases') phases.push(entry);
      },
    });
    stops.push(() => envoy.stop());
    targets.push({
      name,
      url: `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}/v1/chat/completions`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${VIRTUAL_KEY}` },
      pids: [mock.pid, envoy.pid, svc.pid],
      phases,
    });
  };
  // Another build of the service (e.g. a copy of dist/ from before a change), shipped bootstrap, side by side.
  const beforeDist = flag('before-dist', '');
  const probeFiles = new Map<number, string>([[service.pid, probeFile]]);
  if (beforeDist) {
    const beforeCtx = {
      workDir: mkdtempSync(path.join(os.tmpdir(), 'llm-extproc-latency-')),
      distRoot: beforeDist,
      mock,
    };
    const beforeProbe = path.join(beforeCtx.workDir, 'probe.json');
    const before = await startExtprocService(beforeCtx, 1, probeEnv(beforeProbe));
    probeFiles.set(before.pid, beforeProbe);
    await addVariant('shipped (before)', before, parse(extprocBootstrap(beforeCtx, before)) as Bootstrap, []);
  }
  const shipped = parse(extprocBootstrap(ctx, service)) as Bootstrap;
  const floors = new Map<string, { port: number; pid: number }>();
  for (const name of wanted) {
    const edits = VARIANTS[name];
    if (name.startsWith('continue-only-floor')) {
      const transport = name.endsWith('http2') ? 'http2' : 'grpc-js';
      const floorSocket = path.join(workDir, 'floor.sock');
      const floor =
        floors.get(transport) ?? (await startFloor(transport, transport === 'grpc-js' ? floorSocket : undefined));
      floors.set(transport, floor);
      const bootstrap = structuredClone(shipped);
      const cluster = bootstrap.static_resources.clusters.find((c) => c.name === 'llm-extproc')!;
      const endpoint = JSON.stringify(cluster.load_assignment).replace(
        `"port_value":${service.extprocPort}`,
        `"port_value":${floor.port}`,
      );
      cluster.load_assignment = JSON.parse(endpoint) as JsonObject;
      if (name.endsWith('uds'))
        cluster.load_assignment = {
          cluster_name: 'llm-extproc',
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: floorSocket } } } }] }],
        };
      await addVariant(name, { ...service, pid: floor.pid }, bootstrap, edits ?? []);
      continue;
    }
    if (!edits) throw new Error(`unknown variant ${name}: ${Object.keys(VARIANTS).join(', ')}`);
    await addVariant(name, service, shipped, edits);
  }
  const rows = new Map<string, Row>(
    targets.map((t) => [t.name, { latency: [], p50: [], p99: [], cpuEnvoy: [], cpuService: [], probes: [] }]),
  );
  const probe = async (pid: number) => {
    process.kill(pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 100));
    return readFileSync(probeFiles.get(pid)!, 'utf8');
  };
  for (let r = 0; r <= rounds; r++) {
    for (const t of targets) {
      const roots = t.pids;
      let before = new Map<number, number>();
      if (t.phases) t.phases.length = 0;
      const result = await load.run(
        {
          url: t.url,
          headers: t.headers,
          body: REQUEST_BODY_JSON.toString('utf8'),
          stream: false,
          expect: 'openai',
          concurrency,
          warmupMs: r === 0 ? 1500 : 500,
          durationMs: seconds * 1000,
          maxRequests: 1_000_000,
          minRequests: 0,
        },
        () => {
          before = treeCpuMs(roots);
          if (t.pids[2] !== undefined && probeFiles.has(t.pids[2])) process.kill(t.pids[2], 'SIGUSR2');
        },
      );
      const after = treeCpuMs(roots);
      if (r === 0) continue; // warm-up round
      const ok = result.latenciesMs.length;
      const row = rows.get(t.name)!;
      row.p50.push(percentile(result.latenciesMs, 50));
      row.p99.push(percentile(result.latenciesMs, 99));
      const d = (pid: number | undefined) =>
        pid === undefined ? Number.NaN : ((after.get(pid) ?? 0) - (before.get(pid) ?? 0)) / ok;
      row.cpuEnvoy.push(t.pids.length > 1 ? d(t.pids[1]) : Number.NaN);
      row.cpuService.push(t.pids.length > 2 ? d(t.pids[2]) : Number.NaN);
      if (t.pids[2] !== undefined && probeFiles.has(t.pids[2])) row.probes.push(await probe(t.pids[2]));
      if (t.phases && t.phases.length > 0) {
        const keys = Object.keys(t.phases[0]!).filter((k) => k !== 'log_type');
        const summary = keys.map((k) => {
          const values = t
            .phases!.map((p) => Number(p[k]))
            .filter(Number.isFinite)
            .sort((a, b) => a - b);
          return `${k} p50 ${percentile(values, 50)} p99 ${percentile(values, 99)}`;
        });
        row.probes.push(summary.join('; '));
      }
      // The slowest requests of the window: a timer or a delayed ACK would show as a cluster at one value.
      const tail = result.latenciesMs.slice(-Math.max(3, Math.ceil(ok / 100)));
      row.probes.push(`slowest 1 %: ${tail.map((ms) => ms.toFixed(1)).join(' ')}`);
      if (result.errors > 0) process.stdout.write(`${t.name}: ${result.errors} errors, ${result.firstError}\n`);
    }
    process.stdout.write(
      `round ${r} done, load average ${os
        .loadavg()
        .map((l) => round(l, 2))
        .join(' ')}\n`,
    );
  }
  const base = rows.get('envoy-alone')!;
  process.stdout.write(
    `\n| variant (c=${concurrency} JSON) | p50 ms | p99 ms | added p50 over Envoy alone | added p99 | CPU Envoy ms/req | CPU service ms/req |\n|---|---:|---:|---:|---:|---:|---:|\n`,
  );
  for (const [name, row] of rows) {
    const m = (v: number[]) => round(median(v), 3);
    process.stdout.write(
      `| ${name} | ${m(row.p50)} | ${m(row.p99)} | ${round(median(row.p50) - median(base.p50), 2)} | ${round(median(row.p99) - median(base.p99), 2)} | ${m(row.cpuEnvoy)} | ${m(row.cpuService)} |\n`,
    );
  }
  for (const [name, row] of rows) for (const p of row.probes) process.stdout.write(`${name}: ${p}\n`);
  const metrics = await fetch(`http://127.0.0.1:${service.adminPort}/metrics`).then((r) => r.text());
  process.stdout.write(
    metrics
      .split('\n')
      .filter((l) => /stream_processing_seconds_(sum|count)/.test(l))
      .join('\n') + '\n',
  );
  load.exit();
  for (const s of stops) await s();
  await stopAll();
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
