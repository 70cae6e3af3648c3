// Two ext_proc workers behind a real Envoy (two Envoy worker threads: two ext_proc connections, one per worker).
// One budget for both (the primary's ledger), verdicts scored by the primary's monitor, a reload reaching both,
// and /metrics counting every worker's streams.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

const ASK = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello' }],
  max_tokens: 20,
});

function yaml(upstream: string, limit: number): string {
  return `
extproc: { workers: 2 }
backends:
  - { name: primary, provider: openai, baseUrl: "${upstream}", apiKeyEnv: WORKERS_E2E_KEY }
routes:
  - model: gpt-4o-mini
    backends: [{ backend: primary }]
budgets:
  store: { kind: memory }
  organisations:
    - name: acme
      teams:
        - name: t
          keys: [{ name: k, sha256: "${createHash('sha256').update('vk-workers').digest('hex')}", limits: [{ window: day, requests: ${limit} }] }]
`;
}

/** Established TCP connections on `port` that each process holds (Linux /proc: socket inodes of its fds). */
function connectionsOn(port: number, pids: readonly number[]): number[] {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(hexPort) && fields[3] === '01') inodes.add(fields[9] ?? '');
    }
  }
  return pids.map((pid) => {
    const dir = `/proc/${pid}/fd`;
    return readdirSync(dir).filter((fd) => {
      try {
        return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`${dir}/${fd}`))?.[1] ?? '');
      } catch {
        return false; // closed meanwhile
      }
    }).length;
  });
}

describe('two ext_proc workers through Envoy', () => {
  let upstream: MockOpenAI;
  let service: TestService;
  const ask = async () => {
    const res = await fetch(`${service.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer vk-workers' },
      body: ASK,
    });
    await res.arrayBuffer();
    return res.status;
  };
  const metric = async (pattern: RegExp) =>
    Number(pattern.exec(await (await fetch(`${service.adminUrl}/metrics`)).text())?.[1]);

  before(async () => {
    upstream = await startMockOpenAI({ apiKey: 'sk-provider' });
    service = await startTestService(
      yaml(upstream.baseUrl, 10),
      { WORKERS_E2E_KEY: 'sk-provider' },
      { envoyConcurrency: 2 },
    );
  });
  after(async () => {
    await service?.close();
    await upstream?.close();
  });

  test('concurrent requests against one limit: exactly the limit reaches the provider, the rest get 429', async () => {
    assert.equal(service.workerPids().length, 2);
    const statuses = await Promise.all(Array.from({ length: 30 }, () => ask()));
    assert.equal(statuses.filter((s) => s === 200).length, 10, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
    assert.equal(upstream.received.length, 10);
  });

  test("Envoy's ext_proc connections are dealt to both workers", () => {
    // Three connections: Envoy's health checker (opened first, at start) and one per Envoy thread that carried
    // requests. The cluster deals them in turn, so each worker holds one of the two request-carrying connections.
    const perWorker = connectionsOn(service.extprocPort, service.workerPids());
    assert.ok(perWorker.reduce((a, b) => a + b, 0) >= 3, `ext_proc connections per worker: ${perWorker.join(', ')}`);
    assert.ok(
      perWorker.every((n) => n >= 1),
      `ext_proc connections per worker: ${perWorker.join(', ')}`,
    );
  });

  test("the workers' verdicts are scored by the primary's health monitor", async () => {
    const view = (await (await fetch(`${service.adminUrl}/health/backends`)).json()) as {
      backends: Record<string, { observations: number }>;
    };
    assert.equal(
      view.backends.primary?.observations,
      10,
      'one observation per answered request, whichever worker saw it',
    );
  });

  test('/metrics counts the router streams of both workers', async () => {
    assert.equal(await metric(/^llm_extproc_stream_processing_seconds_count\{stage="router"\} (\d+)$/m), 30);
  });

  test('a reload reaches every worker: a raised limit applies to the next requests', async () => {
    writeFileSync(
      service.configFile,
      yaml(upstream.baseUrl, 25).replace(
        'extproc: { workers: 2 }',
        `extproc: { address: 127.0.0.1:${service.extprocPort}, workers: 2 }\nadmin: { address: 127.0.0.1:${service.adminPort} }\ndataPlane: { enabled: false }\nlogging: { level: error }`,
      ),
    );
    assert.equal(service.store.reload().ok, true);
    // The aggregated generation is the lowest any process runs: 2 once both workers have the new config.
    const deadline = Date.now() + 10_000;
    while ((await metric(/^llm_extproc_config_generation (\d+)$/m)) !== 2) {
      assert.ok(Date.now() < deadline, 'both workers adopt the reloaded config');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A changed budgets section starts a new ledger (as in one process): 25 more requests fit, whichever worker.
    const statuses = await Promise.all(Array.from({ length: 30 }, () => ask()));
    assert.equal(statuses.filter((s) => s === 200).length, 25, `statuses: ${statuses.join(',')}`);
  });
});
