// The xDS listener with xds.tls, the ext_proc listener's options and code (src/security/tls.ts): with a throwaway
// PKI (openssl CLI), an allowed client certificate gets its clusters; plaintext, no certificate, another CA and an
// identity not in allowedClients get nothing. The config refuses a plaintext xDS listener beyond loopback, the
// bootstrap's llm-xds cluster carries Envoy's client certificate (Envoy 1.40 validates it), and the real Envoy
// takes its clusters from the control plane over that mutual TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { formatProblems, parseConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/schema.js';
import { ConfigStore } from '../config/store.js';
import { buildBootstrap } from '../envoyconfig/bootstrap.js';
import type { JsonObject } from '../util/json.js';
import { startEnvoy } from '../envoy/process.js';
import { validateWithEnvoy } from '../envoy/validate.js';
import { loadServiceProtos } from '../protos/load.js';
import { makeTestPki, type TestCert, type TestPki } from '../security/testing.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { CLUSTER_TYPE_URL } from './resources.js';

const ENVOY_ID = 'spiffe://llm.test/ns/gateway/sa/envoy';
const OTHER_ID = 'spiffe://llm.test/ns/apps/sa/chatbot';

function parse(yaml: string): ServiceConfig {
  const result = parseConfig(yaml);
  if (!result.ok) throw new Error(formatProblems('config', result.problems));
  return result.config;
}
const problems = (yaml: string): string[] => {
  const result = parseConfig(yaml);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
};

const SERVICE_YAML = `
backends:
  - { name: alpha, provider: openai-compatible, baseUrl: "http://127.0.0.1:9/v1" }
routes:
  - { model: m, backends: [{ backend: alpha }] }
`;

type Outcome = { ok: true; clusters: string[] } | { ok: false; code: grpc.status; details: string };

/** One delta CDS request on a fresh channel: the first answer's resource names, or how the call failed. */
function askClusters(target: string, credentials: grpc.ChannelCredentials): Promise<Outcome> {
  const Ads = loadServiceProtos().envoy.service.discovery.v3.AggregatedDiscoveryService;
  const client = new Ads(target, credentials);
  const call = client.DeltaAggregatedResources({ deadline: Date.now() + 3000 });
  return new Promise<Outcome>((resolve) => {
    call.on('data', (response: { resources?: { name?: string }[] }) => {
      resolve({ ok: true, clusters: (response.resources ?? []).map((r) => r.name ?? '') });
      call.cancel();
    });
    call.on('error', (err: grpc.ServiceError) => resolve({ ok: false, code: err.code, details: err.details }));
    call.write({ node: { id: 'tls-test' }, type_url: CLUSTER_TYPE_URL });
  }).finally(() => client.close());
}

function credentials(pki: TestPki, client?: TestCert, ca = pki.caFile): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    readFileSync(ca),
    client ? readFileSync(client.keyFile) : null,
    client ? readFileSync(client.certFile) : null,
  );
}

describe('xds.tls: mutual TLS and the client allowlist on the xDS listener', () => {
  let pki: TestPki;
  let controlPlane: ControlPlane;
  let target: string;
  let config: ServiceConfig;

  before(async () => {
    pki = makeTestPki({ clients: { envoy: `URI:${ENVOY_ID}`, chatbot: `URI:${OTHER_ID}` } });
    const tls = {
      certFile: pki.server.certFile,
      keyFile: pki.server.keyFile,
      clientCaFile: pki.caFile,
      allowedClients: [ENVOY_ID],
    };
    config = parse(`${SERVICE_YAML}\nxds: { enabled: true, address: "127.0.0.1:0", tls: ${JSON.stringify(tls)} }\n`);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-xds-tls-')), 'config.yaml');
    writeFileSync(file, SERVICE_YAML);
    assert.ok(config.xds.tls);
    controlPlane = await startControlPlane(new ConfigStore(file, config, {}), config.xds.address, {
      tls: config.xds.tls,
    });
    target = `127.0.0.1:${controlPlane.port}`;
  });
  after(async () => {
    await controlPlane?.close();
    pki?.remove();
  });

  test('an allowed client certificate gets the clusters', async () => {
    assert.deepEqual(await askClusters(target, credentials(pki, pki.clients['envoy'])), {
      ok: true,
      clusters: ['llm.m'],
    });
  });

  const refused: { name: string; creds: () => grpc.ChannelCredentials; code?: grpc.status }[] = [
    { name: 'plaintext', creds: () => grpc.credentials.createInsecure(), code: grpc.status.UNAVAILABLE },
    { name: 'TLS without a client certificate', creds: () => credentials(pki) },
    {
      name: 'a client certificate from another CA (with an allowed identity)',
      creds: () => credentials(pki, pki.foreign),
    },
    {
      name: 'a verified certificate whose identity is not in allowedClients',
      creds: () => credentials(pki, pki.clients['chatbot']),
      code: grpc.status.PERMISSION_DENIED,
    },
  ];
  for (const { name, creds, code } of refused) {
    test(`refused: ${name}`, async () => {
      const outcome = await askClusters(target, creds());
      assert.equal(outcome.ok, false, `${name} got ${JSON.stringify(outcome)}`);
      if (code !== undefined) assert.equal(!outcome.ok && outcome.code, code, !outcome.ok ? outcome.details : '');
    });
  }

  test("the bootstrap carries Envoy's client certificate for llm-xds; Envoy 1.40 validates it and takes its clusters over mTLS", async (t) => {
    const envoyCert = pki.clients['envoy'];
    assert.ok(envoyCert);
    const bootstrap = buildBootstrap(config, {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      extproc: '127.0.0.1:1',
      xds: { address: target },
      xdsTls: {
        certFile: envoyCert.certFile,
        keyFile: envoyCert.keyFile,
        caFile: pki.caFile,
        serviceSan: 'llm-extproc.test',
      },
    });
    const clusters = (bootstrap['static_resources'] as { clusters: JsonObject[] }).clusters;
    const xdsCluster = clusters.find((c) => c['name'] === 'llm-xds');
    const context = (xdsCluster?.['transport_socket'] as { typed_config: JsonObject } | undefined)?.typed_config;
    assert.equal(
      context?.['@type'],
      'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    );
    assert.deepEqual((context?.['common_tls_context'] as JsonObject)['alpn_protocols'], ['h2']);
    const text = JSON.stringify(bootstrap);
    const validation = await validateWithEnvoy(text);
    assert.ok(validation.ok && validation.deprecations.length === 0, validation.output);

    const envoy = await startEnvoy({ bootstrap: text });
    t.after(() => envoy.stop());
    const deadline = Date.now() + 10_000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      const body = JSON.parse((await envoy.admin('/clusters?format=json')).body) as {
        cluster_statuses: { name: string }[];
      };
      names = body.cluster_statuses.map((c) => c.name);
      if (names.includes('llm.m')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(names.includes('llm.m'), `Envoy's clusters: ${names.join(', ')}`);
  });

  test('the bootstrap refuses a service with xds.tls and no client certificate for Envoy', () => {
    assert.throws(
      () => buildBootstrap(config, { extproc: '127.0.0.1:1', xds: { address: target } }),
      /xds\.tls.*--xds-cert/,
    );
  });
});

describe('plaintext xDS beyond loopback', () => {
  const TLS = '{ certFile: a, keyFile: b, clientCaFile: c, allowedClients: ["spiffe://x/y"] }';
  const cases: { yaml: string; refused: boolean }[] = [
    { yaml: 'xds: { enabled: true, address: "127.0.0.1:18000" }', refused: false },
    { yaml: 'xds: { enabled: true, address: "0.0.0.0:18000" }', refused: true },
    { yaml: 'xds: { enabled: true, address: "10.0.0.5:18000" }', refused: true },
    { yaml: 'xds: { enabled: true, address: "0.0.0.0:18000", allowInsecure: true }', refused: false },
    { yaml: `xds: { enabled: true, address: "0.0.0.0:18000", tls: ${TLS} }`, refused: false },
    { yaml: 'xds: { enabled: false, address: "0.0.0.0:18000" }', refused: false },
  ];
  for (const { yaml, refused } of cases) {
    test(`${refused ? 'refused' : 'accepted'}: ${yaml}`, () => {
      const found = problems(yaml).join('\n');
      if (refused) assert.match(found, /xds\.address.*not loopback.*xds\.tls.*xds\.allowInsecure/);
      else assert.equal(found, '');
    });
  }

  test('the bootstrap refuses a plaintext llm-xds cluster beyond loopback unless told (xdsInsecure)', () => {
    const config = parse(SERVICE_YAML);
    assert.throws(
      () => buildBootstrap(config, { xds: { address: '10.0.0.5:18000' } }),
      /not loopback.*--xds-cert.*--xds-insecure/,
    );
    const bootstrap = buildBootstrap(config, { xds: { address: '10.0.0.5:18000' }, xdsInsecure: true });
    const xds = (bootstrap['static_resources'] as { clusters: JsonObject[] }).clusters.find(
      (c) => c['name'] === 'llm-xds',
    );
    assert.equal(xds?.['transport_socket'], undefined);
    // A DNS name (a Kubernetes Service) is resolved, not given to a STATIC cluster.
    const named = buildBootstrap(config, { xds: { address: 'llm-extproc.llm.svc:18000' }, xdsInsecure: true });
    assert.equal(
      (named['static_resources'] as { clusters: JsonObject[] }).clusters.find((c) => c['name'] === 'llm-xds')?.['type'],
      'STRICT_DNS',
    );
  });
});
