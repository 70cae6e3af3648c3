// The paths the peers bench measures and how each is started: direct to the mocks, Envoy alone, Envoy + llm-extproc
// (a passthrough and a translated provider, budgets on), Portkey and LiteLLM. Each starter returns the URL and
// headers a client uses, the request bodies, and the root pid of every process on the path, by role.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEnvoy } from '../../src/envoy/process.js';
import { REQUEST_BODY_JSON, REQUEST_BODY_SSE } from '../fixtures.js';
import { freePort, logPath, onStop, spawnLogged, stopChild, waitForHttp, type Child } from './children.js';
import { envoyAloneBootstrap, ENVOY_ALONE_LISTENER } from './envoy-alone.js';
import { ensureLitellm, ensurePortkey } from './install.js';
import type { Expect } from './ipc.js';
import { SERVICE_NODE_FLAGS } from '../../src/workers/node-flags.js';

export type Role = 'mock' | 'envoy' | 'extproc' | 'peer';
export const ROLES: readonly Role[] = ['mock', 'envoy', 'extproc', 'peer'];

export type PathId =
  'direct' | 'direct-anthropic' | 'envoy' | 'extproc' | 'extproc-anthropic' | 'extproc-2w' | 'portkey' | 'litellm';
export const PATH_IDS: readonly PathId[] = [
  'direct',
  'direct-anthropic',
  'envoy',
  'extproc',
  'extproc-anthropic',
  'extproc-2w',
  'portkey',
  'litellm',
];

export const PATH_LABELS: Record<PathId, string> = {
  direct: '(a) direct → mock OpenAI',
  'direct-anthropic': '(a′) direct → mock Anthropic',
  envoy: '(b) Envoy alone',
  extproc: '(c) Envoy + llm-extproc, openai-compatible',
  'extproc-anthropic': '(c′) Envoy + llm-extproc, anthropic (translated)',
  'extproc-2w': '(c″) Envoy (2 threads) + llm-extproc (2 workers), openai-compatible',
  portkey: '(d) Portkey',
  litellm: '(e) LiteLLM',
};

/** What added latency is measured against: the direct path to the same mock. */
export const BASELINE: Record<PathId, PathId> = {
  direct: 'direct',
  'direct-anthropic': 'direct-anthropic',
  envoy: 'direct',
  extproc: 'direct',
  'extproc-anthropic': 'direct-anthropic',
  'extproc-2w': 'direct',
  portkey: 'direct',
  litellm: 'direct',
};

export interface BenchPath {
  readonly id: PathId;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodies: { readonly json: string; readonly sse: string };
  readonly expect: Expect;
  /** Root pid of each process on the path (its descendants are counted with it). */
  readonly pids: Partial<Record<Role, number>>;
  /** What runs there (versions), for the report. */
  readonly note: string;
  /** llm-extproc's admin API (paths through the service only). */
  readonly adminUrl?: string;
  /** What the path's Envoy logged about requests that did not end in 200 (first few), for error reports. */
  readonly anomalies?: () => readonly string[];
}

export interface MockPorts {
  readonly openaiPort: number;
  readonly anthropicPort: number;
  readonly pid: number;
}

export interface StartContext {
  /** Temporary directory for configs and logs. */
  readonly workDir: string;
  /** dist/ of this build (…/dist or …/dist-peers): where src/cli/main.js and bench/peers/loopback.js are. */
  readonly distRoot: string;
  readonly mock: MockPorts;
}

export const UPSTREAM_KEY = 'sk-bench-upstream-0123456789abcdef';
export const ANTHROPIC_KEY = 'sk-ant-bench-0123456789abcdef';
export const VIRTUAL_KEY = 'vk-bench-client-0123456789abcdef';
export const OPENAI_MODEL = 'gpt-4o-mini';
const UPSTREAM_MODEL = 'llama-3.1-8b-instruct';
export const ANTHROPIC_MODEL = 'claude-haiku-4-5';
/**
 * LiteLLM counts the tokens of streamed answers itself. For a llama model name it fetches a Hugging Face tokenizer
 * (Xenova/llama-3-tokenizer), which cannot be reached here: every streamed request would wait out its retries
 * (~23 s). With an OpenAI name it uses the tiktoken files it ships. The mock answers any model name alike.
 */
const LITELLM_UPSTREAM_MODEL = OPENAI_MODEL;

const JSON_HEADERS = { 'content-type': 'application/json' };

const openaiBodies = { json: REQUEST_BODY_JSON.toString('utf8'), sse: REQUEST_BODY_SSE.toString('utf8') };

function withModel(body: string, model: string): string {
  return JSON.stringify({ ...(JSON.parse(body) as Record<string, unknown>), model });
}

const anthropicUnifiedBodies = {
  json: withModel(openaiBodies.json, ANTHROPIC_MODEL),
  sse: withModel(openaiBodies.sse, ANTHROPIC_MODEL),
};

function cli(ctx: StartContext): string {
  return path.join(ctx.distRoot, 'src', 'cli', 'main.js');
}

/** The Anthropic Messages body llm-extproc sends for a unified body: `llm-extproc translate` (the same translator). */
function translateToAnthropic(ctx: StartContext, unified: string): string {
  const result = spawnSync(
    process.execPath,
    [cli(ctx), 'translate', '--provider', 'anthropic', '--direction', 'request', '--model', ANTHROPIC_MODEL],
    {
      input: unified,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  if (result.status !== 0)
    throw new Error(`llm-extproc translate failed (${result.status ?? result.signal}): ${result.stderr}`);
  return result.stdout;
}

export function directPaths(ctx: StartContext): BenchPath[] {
  return [
    {
      id: 'direct',
      url: `http://127.0.0.1:${ctx.mock.openaiPort}/v1/chat/completions`,
      headers: { ...JSON_HEADERS, authorization: `Bearer ${UPSTREAM_KEY}` },
      bodies: openaiBodies,
      expect: 'openai',
      pids: { mock: ctx.mock.pid },
      note: 'test/support/mock-openai.ts',
    },
    {
      id: 'direct-anthropic',
      url: `http://127.0.0.1:${ctx.mock.anthropicPort}/v1/messages`,
      headers: { ...JSON_HEADERS, 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' },
      bodies: {
        json: translateToAnthropic(ctx, anthropicUnifiedBodies.json),
        sse: translateToAnthropic(ctx, anthropicUnifiedBodies.sse),
      },
      expect: 'anthropic',
      pids: { mock: ctx.mock.pid },
      note: 'test/support/mock-anthropic.ts, body from `llm-extproc translate`',
    },
  ];
}

export async function startEnvoyAlone(ctx: StartContext, envoyVersion: string): Promise<BenchPath> {
  const envoy = await startEnvoy({ bootstrap: JSON.stringify(envoyAloneBootstrap(ctx.mock.openaiPort)) });
  onStop(() => envoy.stop());
  const port = envoy.listenerPorts.get(ENVOY_ALONE_LISTENER);
  if (port === undefined) throw new Error(`Envoy alone: no ${ENVOY_ALONE_LISTENER} listener`);
  return {
    id: 'envoy',
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: { ...JSON_HEADERS, authorization: `Bearer ${UPSTREAM_KEY}` },
    bodies: openaiBodies,
    expect: 'openai',
    pids: { mock: ctx.mock.pid, envoy: envoy.pid },
    note: `${envoyVersion}, 1 worker, listener → router → one STATIC cluster (bench/peers/envoy-alone.ts)`,
  };
}

function serviceConfig(ctx: StartContext, extprocPort: number, adminPort: number, workers: number): string {
  const sha = createHash('sha256').update(VIRTUAL_KEY).digest('hex');
  return `# Generated by bench/peers/targets.ts for npm run bench:peers.
extproc: { address: 127.0.0.1:${extprocPort}, workers: ${workers} }
admin: { address: 127.0.0.1:${adminPort} }
dataPlane: { enabled: false }
logging: { level: warn }
backends:
  - { name: mock-openai, provider: openai-compatible, baseUrl: "http://127.0.0.1:${ctx.mock.openaiPort}/v1", apiKeyEnv: BENCH_UPSTREAM_KEY }
  - { name: mock-anthropic, provider: anthropic, baseUrl: "http://127.0.0.1:${ctx.mock.anthropicPort}/v1", apiKeyEnv: BENCH_ANTHROPIC_KEY }
routes:
  - { model: ${OPENAI_MODEL}, backends: [{ backend: mock-openai, model: ${UPSTREAM_MODEL} }] }
  - { model: ${ANTHROPIC_MODEL}, backends: [{ backend: mock-anthropic }] }
budgets:
  store: { kind: memory }
  prices:
    ${OPENAI_MODEL}: { input: 0.15, cachedInput: 0.075, output: 0.60 }
    ${ANTHROPIC_MODEL}: { input: 1.00, output: 5.00 }
  organisations:
    - name: bench
      limits: [{ window: month, costUsd: 1000000 }, { window: day, totalTokens: 1000000000000 }]
      teams:
        - name: peers
          rate: { rpm: 1000000000, tpm: 1000000000000 }
          keys:
            - { name: load, sha256: "${sha}", rate: { rpm: 1000000000 } }
`;
}

export interface ExtprocOptions {
  /** extproc.workers (default 1: bench:peers compares CPU per request, measured the same way since before workers). */
  readonly workers?: number;
  /** Envoy's --concurrency (default 1). Envoy opens one ext_proc connection per worker thread. */
  readonly envoyConcurrency?: number;
}

/** A running `llm-extproc start` with the bench config, and what Envoy needs to reach it. */
export interface ExtprocService {
  readonly workers: number;
  readonly configFile: string;
  readonly extprocPort: number;
  readonly adminPort: number;
  readonly pid: number;
}

/** Starts the service (budgets on) and waits until it is ready. `env` is added to its environment (probes). */
export async function startExtprocService(
  ctx: StartContext,
  workers: number,
  env: Readonly<Record<string, string>> = {},
): Promise<ExtprocService> {
  const [extprocPort, adminPort] = [await freePort(), await freePort()];
  const configFile = path.join(ctx.workDir, `llm-extproc-${workers}w.yaml`);
  writeFileSync(configFile, serviceConfig(ctx, extprocPort, adminPort, workers));
  // The flags the bin's shebang gives `llm-extproc start`.
  const service = spawnLogged(
    'llm-extproc',
    process.execPath,
    [...SERVICE_NODE_FLAGS, cli(ctx), 'start', '--config', configFile],
    {
      env: { ...process.env, BENCH_UPSTREAM_KEY: UPSTREAM_KEY, BENCH_ANTHROPIC_KEY: ANTHROPIC_KEY, ...env },
      logFile: logPath(ctx.workDir, `llm-extproc-${workers}w`),
    },
  );
  onStop(() => stopChild(service));
  // /readyz answers 200 once the config is applied and the tokenizer (budgets count prompts) is loaded.
  await waitForHttp(`http://127.0.0.1:${adminPort}/readyz`, 60_000, service);
  return { workers, configFile, extprocPort, adminPort, pid: service.pid };
}

/** The bootstrap `llm-extproc envoy-bootstrap` generates for the service, as shipped (YAML). */
export function extprocBootstrap(ctx: StartContext, service: ExtprocService): string {
  const generated = spawnSync(
    process.execPath,
    [
      cli(ctx),
      'envoy-bootstrap',
      '--config',
      service.configFile,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--extproc',
      `127.0.0.1:${service.extprocPort}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (generated.status !== 0)
    throw new Error(
      `llm-extproc envoy-bootstrap failed (${generated.status ?? generated.signal}): ${generated.stderr}`,
    );
  return generated.stdout;
}

export async function startExtproc(
  ctx: StartContext,
  envoyVersion: string,
  options: ExtprocOptions = {},
): Promise<BenchPath[]> {
  const workers = options.workers ?? 1;
  const service = await startExtprocService(ctx, workers);
  const { adminPort } = service;
  const generated = { stdout: extprocBootstrap(ctx, service) };
  writeFileSync(path.join(ctx.workDir, `llm-extproc-${workers}w-envoy.yaml`), generated.stdout);
  // Its access log (as generated: one line per request and per upstream attempt) tells why a request failed.
  const anomalies = new Map<string, number>();
  const envoy = await startEnvoy({
    bootstrap: generated.stdout,
    ...(options.envoyConcurrency ? { concurrency: options.envoyConcurrency } : {}),
    onAccessLog: (entry) => {
      if (Number(entry.response_code) === 200) return;
      const fields = [
        'log_type',
        'response_code',
        'response_code_details',
        'response_flags',
        'upstream_transport_failure_reason',
        'backend',
      ];
      const line = fields
        .filter((f) => entry[f] !== undefined && entry[f] !== null && entry[f] !== '' && entry[f] !== '-')
        .map((f) => `${f}=${String(entry[f])}`)
        .join(' ');
      if (anomalies.has(line) || anomalies.size < 20) anomalies.set(line, (anomalies.get(line) ?? 0) + 1);
    },
  });
  const describeAnomalies = () => [...anomalies].map(([line, count]) => `${count} × ${line}`);
  onStop(() => envoy.stop());
  const port = envoy.listenerPorts.get('llm_ingress');
  if (port === undefined) throw new Error('Envoy + llm-extproc: no llm_ingress listener');
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const headers = { ...JSON_HEADERS, authorization: `Bearer ${VIRTUAL_KEY}` };
  const pids = { mock: ctx.mock.pid, envoy: envoy.pid, extproc: service.pid };
  const note = `${envoyVersion}, ${options.envoyConcurrency ?? 1} Envoy worker thread(s), ${workers} ext_proc worker(s), bootstrap from \`llm-extproc envoy-bootstrap\`; service: \`llm-extproc start\`, budgets on (memory store, prompt counting)`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  return [
    {
      id: 'extproc',
      url,
      headers,
      bodies: openaiBodies,
      expect: 'openai',
      pids,
      note,
      adminUrl,
      anomalies: describeAnomalies,
    },
    {
      id: 'extproc-anthropic',
      url,
      headers,
      bodies: anthropicUnifiedBodies,
      expect: 'openai',
      pids,
      note,
      adminUrl,
      anomalies: describeAnomalies,
    },
  ];
}

/** Fails when a peer listens on `port` anywhere but loopback (from /proc/net/tcp and tcp6). */
function assertLoopbackOnly(name: string, port: number): void {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const loopback = new Set(['0100007F', '00000000000000000000000001000000', '0000000000000000FFFF00000100007F']);
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [address, localPort] = (fields[1] ?? '').split(':');
      if (localPort === hexPort && fields[3] === '0A' && address !== undefined && !loopback.has(address)) {
        throw new Error(`${name} listens on a non-loopback address (${file}: ${fields[1]}); stopped`);
      }
    }
  }
}

export async function startPortkey(ctx: StartContext): Promise<BenchPath> {
  const installed = ensurePortkey();
  const port = await freePort();
  const preload = pathToFileURL(path.join(ctx.distRoot, 'bench', 'peers', 'loopback.js')).href;
  const child: Child = spawnLogged(
    'portkey',
    installed.command,
    ['--import', preload, ...installed.args, `--port=${port}`, '--headless'],
    {
      cwd: installed.cwd,
      env: { ...process.env, NODE_ENV: 'production' },
      logFile: logPath(ctx.workDir, 'portkey'),
    },
  );
  onStop(() => stopChild(child));
  await waitForHttp(`http://127.0.0.1:${port}/`, 60_000, child);
  assertLoopbackOnly('Portkey', port);
  return {
    id: 'portkey',
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: {
      ...JSON_HEADERS,
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `http://127.0.0.1:${ctx.mock.openaiPort}/v1`,
    },
    bodies: openaiBodies,
    expect: 'openai',
    pids: { mock: ctx.mock.pid, peer: child.pid },
    note: `${installed.version}, node ${process.version}, NODE_ENV=production --headless (${installed.note})`,
  };
}

export async function startLitellm(ctx: StartContext): Promise<BenchPath> {
  const installed = ensureLitellm();
  const port = await freePort();
  const configFile = path.join(ctx.workDir, 'litellm.yaml');
  // LiteLLM refuses to start without a (strong) master key; with no database, the key is the only credential.
  const masterKey = `sk-${randomBytes(32).toString('hex')}`;
  writeFileSync(
    configFile,
    `# Generated by bench/peers/targets.ts for npm run bench:peers: one model, no database, no callbacks.
model_list:
  - model_name: ${OPENAI_MODEL}
    litellm_params:
      model: openai/${LITELLM_UPSTREAM_MODEL}
      api_base: http://127.0.0.1:${ctx.mock.openaiPort}/v1
      api_key: ${UPSTREAM_KEY}
litellm_settings:
  callbacks: []
  success_callback: []
  failure_callback: []
  turn_off_message_logging: true
  set_verbose: false
general_settings:
  master_key: ${masterKey}
  disable_spend_logs: true
`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LITELLM_LOCAL_MODEL_COST_MAP: 'True', // no fetch of the price list at start-up (and no network here)
    LITELLM_TELEMETRY_DISABLED: 'true',
    LITELLM_LOG: 'ERROR', // also uvicorn's level: no access log line per request
    HF_HUB_OFFLINE: '1', // never try to download a tokenizer (there is no network here)
    GRACEFUL_SHUTDOWN_TIMEOUT: '2',
    PYTHONUNBUFFERED: '1',
  };
  delete env.DATABASE_URL;
  const child = spawnLogged(
    'litellm',
    installed.command,
    [...installed.args, '--config', configFile, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
    {
      cwd: ctx.workDir,
      env,
      logFile: logPath(ctx.workDir, 'litellm'),
    },
  );
  onStop(() => stopChild(child));
  await waitForHttp(`http://127.0.0.1:${port}/health/liveliness`, 180_000, child);
  assertLoopbackOnly('LiteLLM', port);
  return {
    id: 'litellm',
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: { ...JSON_HEADERS, authorization: `Bearer ${masterKey}` },
    bodies: openaiBodies,
    expect: 'openai',
    pids: { mock: ctx.mock.pid, peer: child.pid },
    note: `${installed.version}, uvicorn, 1 worker, no database, master key, no callbacks, LITELLM_LOG=ERROR, upstream model openai/${LITELLM_UPSTREAM_MODEL} (${installed.note})`,
  };
}
