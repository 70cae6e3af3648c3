// Semantic health through real Envoy 1.40 on ADS: two OpenAI-compatible backends behind Envoy; when one starts
// answering 200 with empty (whole bodies) or degenerate (streams) output, the passive checks score it down, the
// control plane publishes it UNHEALTHY, Envoy's /clusters shows it and traffic moves to the other backend; when it
// answers well again, the active probes (straight to the backend) bring it back and Envoy sends it traffic again.
// Without probes (the default config), the half-open trial does the same. Envoy's admin /clusters is the witness.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatProblems, parseConfig } from '../../src/config/load.js';
import { buildBootstrap } from '../../src/envoyconfig/bootstrap.js';
import { startEnvoy, type RunningEnvoy } from '../../src/envoy/process.js';
import { startService, type RunningService } from '../../src/service.js';
import { startMockHealthBackend, type MockHealthBackend } from '../support/mock-health.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Requests a misbehaving backend may take before Envoy has it out (about half reach it; 7 failures take it out). */
const MAX_REQUESTS_TO_EJECT = 40;

interface HostStatus {
  locality?: { sub_zone?: string };
  health_status: Record<string, unknown>;
}

interface Stack {
  alpha: MockHealthBackend;
  beta: MockHealthBackend;
  service: RunningService;
  envoy: RunningEnvoy;
  base: string;
}

/** Two mock backends, the service with its control plane (xds.enabled) and Envoy on delta ADS from it. */
async function startStack(healthYaml: string): Promise<Stack> {
  const alpha = await startMockHealthBackend();
  const beta = await startMockHealthBackend();
  const text = `
extproc: { address: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
dataPlane: { enabled: false }
xds: { enabled: true, address: "127.0.0.1:0" }
logging: { level: error }
health:
  ${healthYaml}
backends:
  - { name: alpha, provider: openai-compatible, baseUrl: "${alpha.baseUrl}" }
  - { name: beta, provider: openai-compatible, baseUrl: "${beta.baseUrl}" }
routes:
  - { model: m, backends: [{ backend: alpha }, { backend: beta }] }
`;
  const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-health-')), 'config.yaml');
  writeFileSync(configFile, text);
  const parsed = parseConfig(text);
  if (!parsed.ok) throw new Error(formatProblems('config', parsed.problems));
  const service = await startService({ configFile, config: parsed.config, env: {} });
  assert.ok(service.xdsPort !== undefined);
  const bootstrap = JSON.stringify(
    buildBootstrap(parsed.config, {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      extproc: `127.0.0.1:${service.extprocPort}`,
      xds: { address: `127.0.0.1:${service.xdsPort}`, api: 'DELTA_GRPC' },
    }),
  );
  const envoy = await startEnvoy({ bootstrap });
  return { alpha, beta, service, envoy, base: `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}/v1` };
}

async function hostHealth(envoy: RunningEnvoy, backend: string): Promise<string | undefined> {
  const body = JSON.parse((await envoy.admin('/clusters?format=json')).body) as {
    cluster_statuses: { name: string; host_statuses?: HostStatus[] }[];
  };
  const host = body.cluster_statuses
    .find((c) => c.name === 'llm.m')
    ?.host_statuses?.find((h) => h.locality?.sub_zone === backend);
  return host?.health_status.eds_health_status as string | undefined;
}

async function chat(base: string, marker: string, stream = false): Promise<number> {
  const res = await fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: marker }] }),
  });
  await res.text();
  return res.status;
}

describe('semantic health steers Envoy (ADS, delta)', () => {
  let alpha: MockHealthBackend;
  let beta: MockHealthBackend;
  let service: RunningService;
  let envoy: RunningEnvoy;
  let base: string;

  before(async () => {
    ({ alpha, beta, service, envoy, base } = await startStack(
      // Probe only backends that are not HEALTHY, every ~300 ms: recovery is what the test needs from them.
      'probes: { enabled: true, intervalMs: 300, jitter: 0.2, timeoutMs: 2000, maxTokens: 16, onlyUnhealthy: true }',
    ));
  });

  after(async () => {
    await envoy?.stop();
    await service?.close();
    await alpha?.close();
    await beta?.close();
  });

  const health = (backend: string) => hostHealth(envoy, backend);
  const until = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(50);
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  const ask = (marker: string, stream = false) => chat(base, marker, stream);
  const admin = async (p: string) => (await fetch(`http://127.0.0.1:${service.adminPort}${p}`)).text();

  /** Sends requests until `backend` is out in Envoy; returns how many it took. */
  const driveOut = async (backend: string, marker: string, stream: boolean): Promise<number> => {
    for (let sent = 1; sent <= MAX_REQUESTS_TO_EJECT; sent++) {
      assert.equal(await ask(marker, stream), 200);
      if ((await health(backend)) === 'UNHEALTHY') return sent;
    }
    await until(`${backend} UNHEALTHY in Envoy`, async () => (await health(backend)) === 'UNHEALTHY', 2000);
    return MAX_REQUESTS_TO_EJECT;
  };

  test('both backends are healthy and serve traffic', async () => {
    await until(
      'both hosts in llm.m',
      async () => (await health('alpha')) === 'HEALTHY' && (await health('beta')) === 'HEALTHY',
    );
    for (let i = 0; i < 20; i++) assert.equal(await ask('warmup'), 200);
    assert.ok(alpha.traffic('warmup') > 0 && beta.traffic('warmup') > 0, 'both served');
  });

  test('a backend answering 200 with empty content is taken out within a bounded number of requests; traffic moves; probes bring it back', async () => {
    beta.mode = 'empty';
    const took = await driveOut('beta', 'empty-phase', false);
    assert.ok(took <= MAX_REQUESTS_TO_EJECT, `ejected after ${took} requests`);
    const view = JSON.parse(await admin('/health/backends')) as {
      backends: Record<string, { state: string; score: number; lastVerdicts: Array<{ check: string; pass: boolean }> }>;
    };
    assert.equal(view.backends.beta?.state, 'UNHEALTHY');
    assert.ok((view.backends.beta?.score ?? 0) > 0.6);
    assert.ok(view.backends.beta?.lastVerdicts.some((v) => v.check === 'empty' && !v.pass));
    assert.equal(view.backends.alpha?.state, 'HEALTHY');
    assert.match(
      await admin('/metrics'),
      /llm_extproc_verdicts_total\{backend="beta",check="empty",result="fail"\} \d+/,
    );

    const seen = beta.traffic('after-eject');
    for (let i = 0; i < 20; i++) assert.equal(await ask('after-eject'), 200);
    assert.equal(beta.traffic('after-eject'), seen, 'no client request reached the unhealthy backend');
    assert.equal(alpha.traffic('after-eject'), 20);

    // While it stays broken, failing probes keep it out.
    const probesBefore = beta.probes;
    await sleep(1000);
    assert.ok(beta.probes > probesBefore, 'probes were sent to the unhealthy backend');
    assert.equal(await health('beta'), 'UNHEALTHY');

    beta.mode = 'ok';
    await until('beta HEALTHY again in Envoy (3 clean probes)', async () => (await health('beta')) === 'HEALTHY');
    for (let i = 0; i < 20; i++) assert.equal(await ask('recovered'), 200);
    assert.ok(beta.traffic('recovered') > 0, 'traffic came back to beta');
    console.log(`# empty content: beta out after ${took} requests`);
  });

  test('a backend streaming degenerate repetition is taken out and comes back the same way', async () => {
    alpha.mode = 'degenerate';
    const took = await driveOut('alpha', 'loop-phase', true);
    const view = JSON.parse(await admin('/health/backends')) as {
      backends: Record<string, { lastVerdicts: Array<{ check: string; pass: boolean }> }>;
    };
    assert.ok(view.backends.alpha?.lastVerdicts.some((v) => v.check === 'repetition' && !v.pass));
    const seen = alpha.traffic('after-loop');
    for (let i = 0; i < 20; i++) assert.equal(await ask('after-loop', true), 200);
    assert.equal(alpha.traffic('after-loop'), seen);
    alpha.mode = 'ok';
    await until('alpha HEALTHY again', async () => (await health('alpha')) === 'HEALTHY');
    for (let i = 0; i < 20; i++) assert.equal(await ask('back', true), 200);
    assert.ok(alpha.traffic('back') > 0);
    console.log(`# degenerate stream: alpha out after ${took} requests`);
  });

  test('the last healthy backend is never taken out (panic rule): it is held DEGRADED and still serves', async () => {
    alpha.mode = 'empty';
    beta.mode = 'empty';
    for (let i = 0; i < 50; i++) assert.equal(await ask('both-bad'), 200);
    const view = JSON.parse(await admin('/health/backends')) as {
      backends: Record<string, { state: string; heldByPanicRule: boolean }>;
    };
    assert.equal(view.backends.alpha?.state, 'UNHEALTHY');
    assert.equal(view.backends.beta?.state, 'UNHEALTHY');
    assert.ok(view.backends.alpha?.heldByPanicRule || view.backends.beta?.heldByPanicRule);
    const states = [await health('alpha'), await health('beta')];
    assert.ok(states.includes('DEGRADED'), `one backend is held: ${states.join(', ')}`);
    assert.ok(!states.every((s) => s === 'UNHEALTHY'));
    alpha.mode = 'ok';
    beta.mode = 'ok';
  });
});

describe('semantic health without probes (the default): half-open recovery through Envoy', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack('score: { halfOpenAfterMs: 1000 }');
  });
  after(async () => {
    await stack?.envoy.stop();
    await stack?.service.close();
    await stack?.alpha.close();
    await stack?.beta.close();
  });

  test('a backend taken out gets a trial after halfOpenAfterMs: out again while still broken, back for good once fixed', async () => {
    const { envoy, base, beta } = stack;
    const state = () => hostHealth(envoy, 'beta');
    const waitFor = async (want: string, ms: number) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if ((await state()) === want) return;
        await sleep(50);
      }
      assert.fail(`beta never became ${want} in Envoy`);
    };
    await waitFor('HEALTHY', 10_000);
    beta.mode = 'empty';
    for (let i = 0; i < 60 && (await state()) !== 'UNHEALTHY'; i++) assert.equal(await chat(base, 'broken'), 200);
    assert.equal(await state(), 'UNHEALTHY');
    assert.equal(beta.probes, 0, 'no probes are sent by default');
    // Trial while still broken: the first bad answer takes it out again.
    await waitFor('HEALTHY', 5_000);
    for (let i = 0; i < 20 && (await state()) !== 'UNHEALTHY'; i++) assert.equal(await chat(base, 'trial'), 200);
    assert.equal(await state(), 'UNHEALTHY');
    // Fixed: the next trial sticks and traffic comes back.
    beta.mode = 'ok';
    await waitFor('HEALTHY', 5_000);
    for (let i = 0; i < 20; i++) assert.equal(await chat(base, 'fixed'), 200);
    assert.ok(beta.traffic('fixed') > 0);
    assert.equal(await state(), 'HEALTHY');
  });
});
