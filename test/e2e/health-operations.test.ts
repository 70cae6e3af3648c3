// Issue 11's "done when", through the real Envoy 1.40 on delta ADS from the service's own control plane: an
// OpenAI-compatible backend at priority 0 starts answering 200 with empty content; the verdicts take it out and
// Envoy's own priority load balancing sends every request to an Anthropic backend at priority 1 (the upstream
// stage translates each attempt to Anthropic's schema and back): clients stay served. When the primary answers
// well again, probes bring it back. An operator then drains it and restores it through the admin API. Every step
// is checked in Envoy's /clusters, in the client's x-llm-extproc-backend header, in Envoy's access log
// (dynamic metadata `backend`, `health_verdict`), in /metrics and in admin GET /backends.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatProblems, parseConfig } from '../../src/config/load.js';
import { buildBootstrap } from '../../src/envoyconfig/bootstrap.js';
import { startEnvoy, type RunningEnvoy } from '../../src/envoy/process.js';
import { BACKEND_HEADER } from '../../src/extproc/contract.js';
import { startService, type RunningService } from '../../src/service.js';
import { CLAUDE_TEXT, startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic.js';
import { startMockHealthBackend, type MockHealthBackend } from '../support/mock-health.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ADMIN_TOKEN = 'ops-token';

interface HostStatus {
  locality?: { sub_zone?: string };
  health_status: Record<string, unknown>;
}

interface Logged {
  readonly backend: unknown;
  readonly verdict: unknown;
  readonly code: number;
}

interface BackendRow {
  name: string;
  provider: string;
  health?: {
    score: number;
    state: string;
    published: { state: string; weight: number };
    pinned: { state: string; reason?: string } | null;
    recentFailures: Record<string, number>;
  };
}

describe('semantic health operations through Envoy: cross-provider failover, recovery, drain (issue 11)', () => {
  let primary: MockHealthBackend;
  let claude: MockAnthropic;
  let service: RunningService;
  let envoy: RunningEnvoy;
  let base: string;
  const logged: Logged[] = [];

  before(async () => {
    primary = await startMockHealthBackend();
    claude = await startMockAnthropic({ apiKey: 'sk-ant-test' });
    const text = `
extproc: { address: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0", tokenEnv: OPS_ADMIN_TOKEN }
dataPlane: { enabled: false }
xds: { enabled: true, address: "127.0.0.1:0" }
logging: { level: error }
health:
  probes: { enabled: true, intervalMs: 300, jitter: 0.2, timeoutMs: 2000, maxTokens: 16, onlyUnhealthy: true }
backends:
  - { name: primary, provider: openai-compatible, baseUrl: "${primary.baseUrl}" }
  - { name: claude, provider: anthropic, baseUrl: "${claude.baseUrl}", apiKeyEnv: OPS_ANTHROPIC_KEY, priority: 1 }
routes:
  - model: m
    backends: [{ backend: primary }, { backend: claude, model: claude-sonnet-4-5 }]
`;
    const env = { OPS_ANTHROPIC_KEY: 'sk-ant-test', OPS_ADMIN_TOKEN: ADMIN_TOKEN };
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-ops-')), 'config.yaml');
    writeFileSync(configFile, text);
    const parsed = parseConfig(text);
    if (!parsed.ok) throw new Error(formatProblems('config', parsed.problems));
    service = await startService({ configFile, config: parsed.config, env });
    assert.ok(service.xdsPort !== undefined);
    const bootstrap = JSON.stringify(
      buildBootstrap(parsed.config, {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        extproc: `127.0.0.1:${service.extprocPort}`,
        xds: { address: `127.0.0.1:${service.xdsPort}`, api: 'DELTA_GRPC' },
      }),
    );
    envoy = await startEnvoy({
      bootstrap,
      onAccessLog: (line) => {
        if (line.log_type === 'upstream_attempt') return;
        const metadata = (line.llm_extproc ?? {}) as Record<string, unknown>;
        logged.push({ backend: metadata.backend, verdict: metadata.health_verdict, code: Number(line.response_code) });
      },
    });
    base = `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}/v1`;
  });

  after(async () => {
    await envoy?.stop();
    await service?.close();
    await primary?.close();
    await claude?.close();
  });

  const hostHealth = async (backend: string): Promise<string | undefined> => {
    const body = JSON.parse((await envoy.admin('/clusters?format=json')).body) as {
      cluster_statuses: { name: string; host_statuses?: HostStatus[] }[];
    };
    const host = body.cluster_statuses
      .find((c) => c.name === 'llm.m')
      ?.host_statuses?.find((h) => h.locality?.sub_zone === backend);
    return host?.health_status.eds_health_status as string | undefined;
  };
  const until = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(50);
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  /** One client request: status, the serving backend the client is told, the answer. */
  const ask = async (marker: string): Promise<{ status: number; backend: string | null; content: string }> => {
    const res = await fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: marker }] }),
    });
    const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
    return {
      status: res.status,
      backend: res.headers.get(BACKEND_HEADER),
      content: body.choices?.[0]?.message?.content ?? '',
    };
  };
  const admin = (p: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${service.adminPort}${p}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) },
    });
  const backends = async (): Promise<Map<string, BackendRow>> => {
    const view = (await (await admin('/backends')).json()) as { backends: BackendRow[] };
    return new Map(view.backends.map((b) => [b.name, b]));
  };
  const metrics = async () => (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text();
  /** Access-log lines Envoy has written since `from` (it logs just after the client has its answer). */
  const logSince = async (from: number, count: number): Promise<Logged[]> => {
    await until('access log lines', async () => logged.length >= from + count, 5000);
    return logged.slice(from, from + count);
  };

  test('1. healthy: priority 0 serves; the client is told which backend; the access log says pass', async () => {
    await until(
      'both hosts HEALTHY in llm.m',
      async () => (await hostHealth('primary')) === 'HEALTHY' && (await hostHealth('claude')) === 'HEALTHY',
    );
    const from = logged.length;
    for (let i = 0; i < 5; i++) {
      const answer = await ask('warmup');
      assert.equal(answer.status, 200);
      assert.equal(answer.backend, 'primary');
    }
    for (const line of await logSince(from, 5))
      assert.deepEqual(line, { backend: 'primary', verdict: 'pass', code: 200 });
    const rows = await backends();
    assert.equal(rows.get('primary')?.health?.published.state, 'HEALTHY');
    assert.equal(rows.get('claude')?.provider, 'anthropic');
  });

  test('2. 200 with empty output: primary is taken out by Envoy; Anthropic at priority 1 serves every client (re-translated)', async () => {
    primary.mode = 'empty';
    const from = logged.length;
    let sent = 0;
    // DEGRADED (3 bad answers) already moves the traffic: priority 0 has no healthy host left, priority 1 has all.
    while ((await hostHealth('primary')) === 'HEALTHY') {
      assert.ok(++sent <= 20, 'primary degraded within 20 bad answers');
      assert.equal((await ask('bad-phase')).status, 200);
    }
    // It gets no client traffic now; the failing probes (onlyUnhealthy: not HEALTHY) take it out altogether.
    await until(
      'primary UNHEALTHY in Envoy (failing probes)',
      async () => (await hostHealth('primary')) === 'UNHEALTHY',
    );
    const lines = await logSince(from, sent);
    assert.ok(
      lines.some((l) => l.backend === 'primary' && l.verdict === 'fail:empty'),
      JSON.stringify(lines),
    );

    const after = logged.length;
    const seen = primary.traffic('failover');
    for (let i = 0; i < 10; i++) {
      const answer = await ask('failover');
      assert.equal(answer.status, 200);
      assert.equal(answer.backend, 'claude');
      assert.equal(answer.content, CLAUDE_TEXT, 'an OpenAI-shaped answer translated from Anthropic');
    }
    assert.equal(primary.traffic('failover'), seen, 'no client request reached the primary');
    for (const line of await logSince(after, 10))
      assert.deepEqual(line, { backend: 'claude', verdict: 'pass', code: 200 });

    const rows = await backends();
    assert.equal(rows.get('primary')?.health?.state, 'UNHEALTHY');
    assert.equal(rows.get('primary')?.health?.published.state, 'UNHEALTHY');
    assert.ok((rows.get('primary')?.health?.recentFailures.empty ?? 0) > 0);
    assert.equal(rows.get('claude')?.health?.published.state, 'HEALTHY');
    const text = await metrics();
    assert.match(text, /llm_extproc_verdicts_total\{backend="primary",check="empty",result="fail"\} \d+/);
    assert.match(text, /llm_extproc_backend_state\{backend="primary",state="UNHEALTHY"\} 1/);
    assert.match(text, /llm_extproc_backend_weight\{backend="primary"\} 1/);
  });

  test('3. fixed: probes bring the primary back and Envoy sends it traffic again', async () => {
    primary.mode = 'ok';
    await until(
      'primary HEALTHY again in Envoy (3 clean probes)',
      async () => (await hostHealth('primary')) === 'HEALTHY',
    );
    const from = logged.length;
    for (let i = 0; i < 5; i++) assert.equal((await ask('recovered')).backend, 'primary');
    for (const line of await logSince(from, 5))
      assert.deepEqual(line, { backend: 'primary', verdict: 'pass', code: 200 });
    assert.equal((await backends()).get('primary')?.health?.state, 'HEALTHY');
    const text = await metrics();
    assert.match(text, /llm_extproc_verdicts_total\{backend="primary",check="probe",result="pass"\} \d+/);
    assert.match(text, /llm_extproc_backend_state\{backend="primary",state="HEALTHY"\} 1/);
  });

  test('4. an operator drains the primary (Envoy: DRAINING, no new requests) and restores it', async () => {
    assert.equal(
      (await fetch(`http://127.0.0.1:${service.adminPort}/backends/primary/drain`, { method: 'POST' })).status,
      401,
      'protected like /budgets',
    );
    const drained = await admin('/backends/primary/drain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'provider maintenance' }),
    });
    assert.equal(drained.status, 200);
    await until('primary DRAINING in Envoy', async () => (await hostHealth('primary')) === 'DRAINING');
    for (let i = 0; i < 5; i++) assert.equal((await ask('drained')).backend, 'claude');
    assert.equal(primary.traffic('drained'), 0);
    const row = (await backends()).get('primary');
    assert.equal(row?.health?.pinned?.state, 'DRAINING');
    assert.equal(row?.health?.pinned?.reason, 'provider maintenance');
    assert.equal(row?.health?.state, 'HEALTHY', 'its own verdicts are unchanged');
    assert.match(await metrics(), /llm_extproc_backend_pinned\{backend="primary"\} 1/);

    assert.equal((await admin('/backends/primary/restore', { method: 'POST' })).status, 200);
    await until('primary HEALTHY in Envoy after restore', async () => (await hostHealth('primary')) === 'HEALTHY');
    for (let i = 0; i < 5; i++) assert.equal((await ask('restored')).backend, 'primary');
    assert.equal((await backends()).get('primary')?.health?.pinned, null);
    assert.match(await metrics(), /llm_extproc_backend_pinned\{backend="primary"\} 0/);
  });
});
