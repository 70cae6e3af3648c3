// Restarts lose nothing: two service replicas behind one real Envoy, which health-checks them over
// grpc.health.v1. Draining one replica under load (SIGTERM's path: NOT_SERVING, grace, refuse, finish in-flight)
// and starting it again fails no request. With every replica down, clients get an OpenAI-shaped 503 (fail closed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatProblems, parseConfig } from '../../src/config/load.js';
import type { ServiceConfig } from '../../src/config/schema.js';
import { buildBootstrap } from '../../src/envoyconfig/bootstrap.js';
import { startEnvoy, type RunningEnvoy } from '../../src/envoy/process.js';
import { startService, type RunningService } from '../../src/service.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';

let upstream: MockOpenAI;
let envoy: RunningEnvoy;
let configFile: string;
let config: ServiceConfig;
const replicas: RunningService[] = [];
const ports: number[] = [];

function yaml(upstreamUrl: string, port: number): string {
  return `
extproc: { address: "127.0.0.1:${port}", drainTimeoutMs: 5000, drainGraceMs: 4000 }
admin: { address: "127.0.0.1:0" }
dataPlane: { enabled: false }
logging: { level: error }
backends: [{ name: local, provider: openai-compatible, baseUrl: "${upstreamUrl}" }]
routes: [{ model: m, backends: [{ backend: local }] }]
`;
}

async function startReplica(port: number): Promise<RunningService> {
  const text = yaml(upstream.baseUrl, port);
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(formatProblems('test config', parsed.problems));
  config = parsed.config;
  writeFileSync(configFile, text);
  return startService({ configFile, config, env: {} });
}

before(async () => {
  upstream = await startMockOpenAI();
  configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-rolling-')), 'config.yaml');
  for (let i = 0; i < 2; i++) {
    const replica = await startReplica(0);
    replicas.push(replica);
    ports.push(replica.extprocPort);
  }
  envoy = await startEnvoy({
    bootstrap: JSON.stringify(
      buildBootstrap(config, {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        extproc: ports.map((p) => `127.0.0.1:${p}`),
      }),
    ),
  });
});

after(async () => {
  await envoy?.stop();
  await Promise.all(replicas.map((r) => r.close()));
  await upstream?.close();
});

interface Outcome {
  readonly status: number;
  readonly complete: boolean;
  readonly error?: string;
}

async function oneRequest(base: string, stream: boolean): Promise<Outcome> {
  try {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await res.text();
    const complete = stream
      ? body.trimEnd().endsWith('data: [DONE]')
      : res.status !== 200 || (JSON.parse(body) as { choices?: unknown[] }).choices?.length === 1;
    return { status: res.status, complete, ...(res.status === 200 ? {} : { error: body.slice(0, 300) }) };
  } catch (err) {
    return {
      status: 0,
      complete: false,
      error:
        err instanceof Error ? `${err.message} ${err.cause instanceof Error ? err.cause.message : ''}` : String(err),
    };
  }
}

async function healthyExtprocHosts(): Promise<number> {
  const { body } = await envoy.admin('/clusters?format=json');
  const clusters = (
    JSON.parse(body) as {
      cluster_statuses: { name: string; host_statuses?: { health_status: Record<string, unknown> }[] }[];
    }
  ).cluster_statuses;
  const hosts = clusters.find((c) => c.name === 'llm-extproc')?.host_statuses ?? [];
  return hosts.filter(
    (h) => h.health_status.eds_health_status === 'HEALTHY' && !h.health_status.failed_active_health_check,
  ).length;
}

test('a rolling restart of one replica under load fails zero requests', { timeout: 60_000 }, async () => {
  const base = `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}`;
  const outcomes: Outcome[] = [];
  let running = true;
  const workers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; running; i++) outcomes.push(await oneRequest(base, (i + w) % 2 === 0));
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  // SIGTERM's path on replica 0, then the new process on the same port.
  const [first] = replicas.splice(0, 1);
  await first?.drain();
  const beforeRestart = outcomes.length;
  replicas.push(await startReplica(ports[0] as number));
  // Envoy's health checker brings the new process back (healthy_threshold 1, interval 2 s).
  for (let i = 0; i < 100 && (await healthyExtprocHosts()) < 2; i++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await healthyExtprocHosts(), 2, 'both replicas healthy again');
  await new Promise((resolve) => setTimeout(resolve, 500));
  running = false;
  await Promise.all(workers);
  const failed = outcomes.filter((o) => o.status !== 200 || !o.complete);
  assert.ok(
    beforeRestart > 50 && outcomes.length > beforeRestart + 20,
    `load ran through the restart (${beforeRestart} before, ${outcomes.length} in all)`,
  );
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${outcomes.length} requests failed`);
});

test('with every replica down, clients get an OpenAI-shaped 503', async () => {
  await Promise.all(replicas.splice(0).map((r) => r.close()));
  const base = `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}`;
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const body = (await res.json()) as { error: { message: string; type: string; param: unknown; code: string } };
  assert.equal(body.error.type, 'server_error');
  assert.equal(body.error.code, 'gateway_unavailable');
  assert.equal(body.error.param, null);
  assert.match(body.error.message, /request id: [0-9a-f-]{36}\)$/);
});
