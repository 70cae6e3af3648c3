// The xDS control plane with its real client, Envoy 1.40: the LLM clusters arrive over ADS (state of the world and
// delta), traffic flows through them, a backend's weight and health change what Envoy does without a restart,
// and a config reload adds a model. Envoy's admin API (/clusters, /config_dump) is the witness.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatProblems, parseConfig } from '../../src/config/load.js';
import { buildBootstrap } from '../../src/envoyconfig/bootstrap.js';
import { startEnvoy, type RunningEnvoy } from '../../src/envoy/process.js';
import { validateWithEnvoy } from '../../src/envoy/validate.js';
import { startService, type RunningService } from '../../src/service.js';
import { startControlPlane, type ControlPlane } from '../../src/xds/control-plane.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function yaml(a: MockOpenAI, b: MockOpenAI, extraRoute = ''): string {
  return `
extproc: { address: "127.0.0.1:0" }
admin: { address: "127.0.0.1:0" }
dataPlane: { enabled: false }
logging: { level: error }
backends:
  - { name: alpha, provider: openai-compatible, baseUrl: "${a.baseUrl}" }
  # A hostname, not an IP: the control plane resolves it (EDS takes only IP literals) and Envoy keeps it as Host.
  - { name: beta, provider: openai-compatible, baseUrl: "${b.baseUrl.replace('127.0.0.1', 'localhost')}" }
routes:
  - { model: m, backends: [{ backend: alpha }, { backend: beta }] }
${extraRoute}`;
}

interface HostStatus {
  address: { socket_address: { address: string; port_value: number } };
  weight?: number;
  locality?: { sub_zone?: string };
  health_status: Record<string, unknown>;
}

for (const api of ['GRPC', 'DELTA_GRPC'] as const) {
  describe(`Envoy on ${api === 'GRPC' ? 'state-of-the-world' : 'delta'} ADS from the control plane`, () => {
    let a: MockOpenAI;
    let b: MockOpenAI;
    let service: RunningService;
    let controlPlane: ControlPlane;
    let envoy: RunningEnvoy;
    let configFile: string;
    let base: string;

    before(async () => {
      a = await startMockOpenAI();
      b = await startMockOpenAI();
      configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-xds-')), 'config.yaml');
      const text = yaml(a, b);
      writeFileSync(configFile, text);
      const parsed = parseConfig(text);
      if (!parsed.ok) throw new Error(formatProblems('config', parsed.problems));
      service = await startService({ configFile, config: parsed.config, env: {} });
      controlPlane = await startControlPlane(service.store, '127.0.0.1:0');
      const bootstrap = JSON.stringify(
        buildBootstrap(parsed.config, {
          listen: '127.0.0.1:0',
          admin: '127.0.0.1:0',
          extproc: `127.0.0.1:${service.extprocPort}`,
          xds: { address: `127.0.0.1:${controlPlane.port}`, api },
        }),
      );
      const validation = await validateWithEnvoy(bootstrap);
      assert.ok(validation.ok && validation.deprecations.length === 0, validation.output);
      envoy = await startEnvoy({ bootstrap });
      base = `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}/v1`;
    });

    after(async () => {
      await envoy?.stop();
      await controlPlane?.close();
      await service?.close();
      await a?.close();
      await b?.close();
    });

    const hosts = async (cluster: string): Promise<HostStatus[]> => {
      const body = JSON.parse((await envoy.admin('/clusters?format=json')).body) as {
        cluster_statuses: { name: string; host_statuses?: HostStatus[] }[];
      };
      return body.cluster_statuses.find((c) => c.name === cluster)?.host_statuses ?? [];
    };
    const until = async (what: string, check: () => Promise<boolean>) => {
      for (let i = 0; i < 100; i++) {
        if (await check()) return;
        await sleep(50);
      }
      assert.fail(`timed out waiting for ${what}`);
    };
    const ask = async (model = 'm') => {
      const res = await fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.text();
      return res.status;
    };

    test('the cluster arrives with each backend as its own locality, IP literals, and serves traffic to both', async () => {
      await until('two hosts in llm.m', async () => (await hosts('llm.m')).length === 2);
      const found = await hosts('llm.m');
      assert.deepEqual(found.map((h) => h.locality?.sub_zone).sort(), ['alpha', 'beta']);
      assert.ok(found.every((h) => /^\d+\.\d+\.\d+\.\d+$/.test(h.address.socket_address.address)));
      const before = [a.received.length, b.received.length];
      for (let i = 0; i < 20; i++) assert.equal(await ask(), 200);
      assert.ok(a.received.length > (before[0] ?? 0) && b.received.length > (before[1] ?? 0), 'both backends served');
    });

    test('a backend marked UNHEALTHY stops getting traffic, and weights move the split, without an Envoy restart', async () => {
      controlPlane.setBackendState('beta', { weight: 1, health: 'UNHEALTHY' });
      await until('beta unhealthy in Envoy', async () =>
        (await hosts('llm.m')).some(
          (h) => h.locality?.sub_zone === 'beta' && h.health_status.eds_health_status === 'UNHEALTHY',
        ),
      );
      const seenB = b.received.length;
      for (let i = 0; i < 20; i++) assert.equal(await ask(), 200);
      assert.equal(b.received.length, seenB, 'no request reached the unhealthy backend');

      controlPlane.setBackendState('beta', { weight: 9, health: 'HEALTHY' });
      controlPlane.setBackendState('alpha', { weight: 1, health: 'HEALTHY' });
      await until('beta healthy again', async () =>
        (await hosts('llm.m')).every((h) => h.health_status.eds_health_status === 'HEALTHY'),
      );
      const [startA, startB] = [a.received.length, b.received.length];
      // Locality-weighted round robin is deterministic (EDF), so the shares follow the weights closely; the stated
      // tolerance: beta's share of 100 requests within 0.9 ± 0.08.
      for (let i = 0; i < 100; i++) assert.equal(await ask(), 200);
      const [gotA, gotB] = [a.received.length - startA, b.received.length - startB];
      const share = gotB / (gotA + gotB);
      assert.ok(Math.abs(share - 0.9) <= 0.08, `weights 1:9: beta's share ${share} (alpha ${gotA}, beta ${gotB})`);
    });

    test('a config reload that adds a model publishes its cluster; Envoy routes it with no restart', async () => {
      assert.notEqual(await ask('added'), 200);
      writeFileSync(configFile, yaml(a, b, '  - { model: added, backends: [{ backend: alpha }] }'));
      assert.equal(service.store.reload().ok, true);
      await until('cluster llm.added', async () => (await hosts('llm.added')).length === 1);
      // The route table is static in this bootstrap; the router stage routes by header to llm.added, which now exists.
      assert.equal(await ask('added'), 200);
    });
  });
}
