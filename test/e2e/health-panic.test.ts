// Verdicts must move traffic even when most of a priority is judged bad. Envoy's panic threshold (50 % by default)
// would otherwise send traffic to every host of a priority whose healthy share fell below it — the hosts our
// verdicts took out included. Three OpenAI-compatible backends share priority 0 of one route; two are published
// out (UNHEALTHY, then DRAINING) over delta ADS from the service's own control plane; the one left must serve
// every client request, through the real Envoy 1.40.
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

const ADMIN_TOKEN = 'panic-token';
const NAMES = ['a', 'b', 'c'] as const;

describe('verdicts that take out most of a priority still steer Envoy (no panic-mode spill)', () => {
  const mocks = new Map<string, MockHealthBackend>();
  let service: RunningService;
  let envoy: RunningEnvoy;
  let base: string;

  before(async () => {
    for (const name of NAMES) mocks.set(name, await startMockHealthBackend());
    const text = `
extproc: { address: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0", tokenEnv: PANIC_ADMIN_TOKEN }
dataPlane: { enabled: false }
xds: { enabled: true, address: "127.0.0.1:0" }
logging: { level: error }
backends:
${NAMES.map((n) => `  - { name: ${n}, provider: openai-compatible, baseUrl: "${mocks.get(n)!.baseUrl}" }`).join('\n')}
routes:
  - model: m
    backends: [${NAMES.map((n) => `{ backend: ${n} }`).join(', ')}]
`;
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-panic-')), 'config.yaml');
    writeFileSync(configFile, text);
    const parsed = parseConfig(text);
    if (!parsed.ok) throw new Error(formatProblems('config', parsed.problems));
    service = await startService({ configFile, config: parsed.config, env: { PANIC_ADMIN_TOKEN: ADMIN_TOKEN } });
    assert.ok(service.xdsPort !== undefined);
    envoy = await startEnvoy({
      bootstrap: JSON.stringify(
        buildBootstrap(parsed.config, {
          listen: '127.0.0.1:0',
          admin: '127.0.0.1:0',
          extproc: `127.0.0.1:${service.extprocPort}`,
          xds: { address: `127.0.0.1:${service.xdsPort}`, api: 'DELTA_GRPC' },
        }),
      ),
    });
    base = `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}/v1`;
  });

  after(async () => {
    await envoy?.stop();
    await service?.close();
    for (const mock of mocks.values()) await mock.close();
  });

  const pin = async (backend: string, state: string) => {
    const res = await fetch(`http://127.0.0.1:${service.adminPort}/backends/${backend}/pin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ state, reason: 'panic test' }),
    });
    assert.equal(res.status, 200, await res.text());
  };
  const edsStates = async (): Promise<Map<string, string>> => {
    const body = JSON.parse((await envoy.admin('/clusters?format=json')).body) as {
      cluster_statuses: {
        name: string;
        host_statuses?: { locality?: { sub_zone?: string }; health_status: { eds_health_status?: string } }[];
      }[];
    };
    const hosts = body.cluster_statuses.find((c) => c.name === 'llm.m')?.host_statuses ?? [];
    return new Map(hosts.map((h) => [h.locality?.sub_zone ?? '', h.health_status.eds_health_status ?? 'HEALTHY']));
  };
  const until = async (what: string, check: () => Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  /** Sends `n` requests marked `marker`; how many each backend received. */
  const spread = async (marker: string, n: number): Promise<Record<string, number>> => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: marker }] }),
      });
      assert.equal(res.status, 200, await res.text());
      await res.arrayBuffer().catch(() => undefined);
    }
    return Object.fromEntries(NAMES.map((name) => [name, mocks.get(name)!.traffic(marker)]));
  };

  test('all three healthy: traffic reaches all three', async () => {
    await until('three hosts in EDS', async () => (await edsStates()).size === 3);
    const seen = await spread('all-healthy', 60);
    for (const name of NAMES) assert.ok(seen[name]! > 0, JSON.stringify(seen));
  });

  for (const state of ['UNHEALTHY', 'DRAINING'] as const) {
    test(`two of three ${state}: every request goes to the third`, async () => {
      await pin('a', state);
      await pin('b', state);
      await until(`a and b ${state} in Envoy`, async () => {
        const states = await edsStates();
        return states.get('a') === state && states.get('b') === state;
      });
      const seen = await spread(`two-${state}`, 40);
      assert.deepEqual(seen, { a: 0, b: 0, c: 40 });
    });
  }
});
