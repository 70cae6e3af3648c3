// The generated Envoy bootstrap: what it contains for a given service config (table-driven), that envoy/envoy.yaml
// is exactly its output for the embedded default config, and that the pinned Envoy 1.40 accepts every bootstrap
// we generate or ship (`envoy --mode validate`, no deprecated fields) besides our strict proto decoding.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { serviceConfigSchema, type ServiceConfig } from '../config/schema.js';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config/load.js';
import { validateWithEnvoy } from '../envoy/validate.js';
import { envoyBootstrapCommand } from '../cli/envoy-bootstrap.js';
import { repoRoot } from '../util/repo-root.js';
import { bootstrapYaml, buildBootstrap } from './bootstrap.js';
import { validateEnvoyYaml } from './files.js';
import { bootstrapWithPatches } from './istio-bootstrap.js';
import { istioManifests, istioYaml } from './istio.js';
import { makeTestPki } from '../security/testing.js';

type Rec = Record<string, unknown>;
const root = repoRoot();

function config(yaml: string): ServiceConfig {
  return serviceConfigSchema.parse(parse(yaml));
}
const clustersOf = (bootstrap: Rec): Rec[] => (bootstrap.static_resources as { clusters: Rec[] }).clusters;
const cluster = (bootstrap: Rec, name: string): Rec => {
  const found = clustersOf(bootstrap).find((c) => c.name === name);
  assert.ok(found, `cluster ${name}`);
  return found;
};
const endpointsOf = (c: Rec) =>
  (c.load_assignment as { endpoints: { priority: number; lb_endpoints: Rec[] }[] }).endpoints;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } } };
}

describe('envoy-bootstrap: what the clusters look like', () => {
  const cases: { name: string; yaml: string; check: (b: Rec) => void }[] = [
    {
      name: 'one public provider: a TLS transport socket with its SNI and SAN, DNS resolution, Host without port',
      yaml: `backends: [{ name: oai, provider: openai }]\nroutes: [{ model: m, backends: [{ backend: oai }] }]`,
      check: (b) => {
        const c = cluster(b, 'llm.m');
        assert.equal(c.type, 'STRICT_DNS');
        const tls = JSON.stringify(c.transport_socket);
        assert.match(tls, /"sni":"api.openai.com"/);
        assert.match(tls, /"exact":"api.openai.com"/);
        const endpoint = endpointsOf(c)[0]?.lb_endpoints[0] as {
          endpoint: { hostname: string; address: { socket_address: Rec } };
        };
        assert.deepEqual(endpoint.endpoint.address.socket_address, { address: 'api.openai.com', port_value: 443 });
        assert.equal(endpoint.endpoint.hostname, 'api.openai.com');
      },
    },
    {
      name: 'a plaintext IP backend: STATIC, no TLS, HTTP/1.1, Host keeps the non-default port',
      yaml: `backends: [{ name: local, provider: openai-compatible, baseUrl: "http://127.0.0.1:8000/v1" }]\nroutes: [{ model: m, backends: [{ backend: local }] }]`,
      check: (b) => {
        const c = cluster(b, 'llm.m');
        assert.equal(c.type, 'STATIC');
        assert.equal(c.transport_socket, undefined);
        assert.equal(c.transport_socket_matches, undefined);
        assert.match(
          JSON.stringify(c.typed_extension_protocol_options),
          /"explicit_http_config":\{"http_protocol_options":\{\}\}/,
        );
        assert.equal(
          (endpointsOf(c)[0]?.lb_endpoints[0] as { endpoint: { hostname: string } }).endpoint.hostname,
          '127.0.0.1:8000',
        );
      },
    },
    {
      name: 'mixed providers in one cluster: one TLS context per host, chosen by endpoint metadata',
      yaml: `backends:
  - { name: claude, provider: anthropic }
  - { name: local, provider: openai-compatible, baseUrl: "http://10.0.0.5:8000/v1", priority: 1 }
  - { name: oai, provider: openai, priority: 1 }
routes: [{ model: m, backends: [{ backend: claude }, { backend: local }, { backend: oai }] }]`,
      check: (b) => {
        const c = cluster(b, 'llm.m');
        assert.deepEqual(
          (c.transport_socket_matches as Rec[]).map((m) => m.match),
          [{ tls: 'api.anthropic.com' }, { tls: 'api.openai.com' }],
        );
        const metadata = endpointsOf(c).flatMap((level) =>
          level.lb_endpoints.map((e) => (e.metadata as { filter_metadata: Rec }).filter_metadata),
        );
        assert.deepEqual(metadata, [
          { 'llm-extproc': { backend: 'claude' }, 'envoy.transport_socket_match': { tls: 'api.anthropic.com' } },
          { 'llm-extproc': { backend: 'local' } },
          { 'llm-extproc': { backend: 'oai' }, 'envoy.transport_socket_match': { tls: 'api.openai.com' } },
        ]);
      },
    },
    {
      name: 'priorities with gaps become 0..N in order; weights are endpoint weights',
      yaml: `backends:
  - { name: a, provider: openai }
  - { name: b, provider: openai, priority: 5 }
routes: [{ model: m, backends: [{ backend: b, weight: 3 }, { backend: a, weight: 2 }] }]`,
      check: (b) => {
        const levels = endpointsOf(cluster(b, 'llm.m'));
        assert.deepEqual(
          levels.map((l) => [
            l.priority,
            l.lb_endpoints.map((e) => [
              (e.metadata as { filter_metadata: { 'llm-extproc': { backend: string } } }).filter_metadata['llm-extproc']
                .backend,
              e.load_balancing_weight,
            ]),
          ]),
          [
            [0, [['a', 2]]],
            [1, [['b', 3]]],
          ],
        );
      },
    },
    {
      name: 'route retries, timeouts and the buffer limit come from the service config',
      yaml: `dataPlane: { numRetries: 4, retriableStatusCodes: [429, 503], routeTimeoutMs: 90000, messageTimeoutMs: 2500, bufferLimitBytes: 65536 }
backends: [{ name: oai, provider: openai }]
routes: [{ model: m, backends: [{ backend: oai }] }]`,
      check: (b) => {
        const text = JSON.stringify(b);
        assert.match(text, /"per_connection_buffer_limit_bytes":65536/);
        assert.match(text, /"timeout":"90s"/);
        assert.match(text, /"num_retries":4,"retriable_status_codes":\[429,503\]/);
        assert.equal(text.match(/"message_timeout":"2.5s"/g)?.length, 2, 'both ext_proc filters');
      },
    },
  ];
  for (const c of cases) test(c.name, () => c.check(buildBootstrap(config(c.yaml))));

  test('backends disabled where Envoy runs are left out of their clusters', () => {
    const b = buildBootstrap(
      config(
        `backends: [{ name: a, provider: openai }, { name: b, provider: openai, priority: 1 }]\nroutes: [{ model: m, backends: [{ backend: a }, { backend: b }] }]`,
      ),
      { disabledBackends: new Set(['a']) },
    );
    assert.deepEqual(JSON.stringify(endpointsOf(cluster(b, 'llm.m'))).match(/"backend":"\w+"/g), ['"backend":"b"']);
  });

  test('the llm-extproc cluster is reached over TCP (a wildcard address becomes loopback) or a Unix socket', () => {
    const c = config('extproc: { address: "0.0.0.0:7000", allowInsecure: true }');
    assert.match(
      JSON.stringify(cluster(buildBootstrap(c), 'llm-extproc')),
      /"socket_address":\{"address":"127.0.0.1","port_value":7000\}/,
    );
    assert.match(
      JSON.stringify(cluster(buildBootstrap(c, { extproc: 'unix:/run/x.sock' }), 'llm-extproc')),
      /"pipe":\{"path":"\/run\/x.sock"\}/,
    );
  });
});

describe('envoy-bootstrap: mutual TLS to llm-extproc', () => {
  const tls = {
    certFile: '/etc/envoy/extproc/tls.crt',
    keyFile: '/etc/envoy/extproc/tls.key',
    caFile: '/etc/envoy/extproc/ca.crt',
  };
  const socketOf = (b: Rec) => cluster(b, 'llm-extproc').transport_socket as { typed_config: Rec } | undefined;

  test('loopback and Unix targets stay plaintext by default', () => {
    assert.equal(socketOf(buildBootstrap(config('{}'))), undefined);
    assert.equal(socketOf(buildBootstrap(config('{}'), { extproc: 'unix:/run/x.sock' })), undefined);
  });

  test('a target beyond loopback needs mutual TLS or an explicit --extproc-insecure', () => {
    assert.throws(
      () => buildBootstrap(config('{}'), { extproc: 'llm-extproc.ai.svc:50051' }),
      /not loopback.*mutual TLS/,
    );
    assert.throws(() => buildBootstrap(config('{}'), { extproc: ['127.0.0.1:1', '10.0.0.7:50051'] }), /10\.0\.0\.7/);
    assert.equal(
      socketOf(buildBootstrap(config('{}'), { extproc: '10.0.0.7:50051', extprocInsecure: true })),
      undefined,
    );
  });

  test('a service with extproc.tls needs the client certificate of Envoy even on loopback', () => {
    const c = config(
      'extproc: { tls: { certFile: s.crt, keyFile: s.key, clientCaFile: ca.crt, allowedClients: ["spiffe://td/envoy"] } }',
    );
    assert.throws(() => buildBootstrap(c), /extproc\.tls/);
    assert.ok(socketOf(buildBootstrap(c, { extprocTls: tls })));
  });

  test('the UpstreamTlsContext: client certificate, CA, SNI from the target, SAN match (DNS or URI), h2', () => {
    const byName = socketOf(buildBootstrap(config('{}'), { extproc: 'llm-extproc.ai.svc:50051', extprocTls: tls }));
    assert.deepEqual(byName?.typed_config, {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: 'llm-extproc.ai.svc',
      common_tls_context: {
        alpn_protocols: ['h2'],
        tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'llm-extproc.ai.svc' } }],
        },
      },
    });
    const spiffe = socketOf(
      buildBootstrap(config('{}'), {
        extproc: '10.0.0.7:50051',
        extprocTls: { ...tls, serviceSan: 'spiffe://td/ns/ai/sa/llm-extproc' },
      }),
    );
    const text = JSON.stringify(spiffe);
    assert.doesNotMatch(text, /"sni"/, 'no SNI for an IP literal');
    assert.match(text, /"san_type":"URI","matcher":\{"exact":"spiffe:\/\/td\/ns\/ai\/sa\/llm-extproc"\}/);
  });

  test('the CLI flags: --extproc-cert/--extproc-key/--extproc-ca together, refusal explained', () => {
    const partial = capture();
    assert.equal(envoyBootstrapCommand(['--extproc-cert', 'a.crt'], partial.io), 2);
    assert.match(partial.err.join(''), /go together/);
    const remote = capture();
    assert.equal(envoyBootstrapCommand(['--extproc', 'llm-extproc.ai.svc:50051'], remote.io), 2);
    assert.match(remote.err.join(''), /--extproc-insecure/);
    const ok = capture();
    assert.equal(
      envoyBootstrapCommand(
        [
          '--extproc',
          'llm-extproc.ai.svc:50051',
          '--extproc-cert',
          'a.crt',
          '--extproc-key',
          'a.key',
          '--extproc-ca',
          'ca.crt',
          '--extproc-san',
          'spiffe://td/x',
        ],
        ok.io,
      ),
      0,
    );
    assert.match(ok.out.join(''), /UpstreamTlsContext[\s\S]*spiffe:\/\/td\/x/);
  });
});

test('envoy/envoy.yaml is exactly `llm-extproc envoy-bootstrap` for the embedded default config', () => {
  const loaded = loadConfigFile(DEFAULT_CONFIG_PATH);
  assert.ok(loaded.ok);
  const shipped = fs.readFileSync(path.join(root, 'envoy/envoy.yaml'), 'utf8');
  assert.equal(
    shipped,
    bootstrapYaml(loaded.config, {}, 'src/config/default-config.yaml'),
    'regenerate it: node dist/src/cli/main.js envoy-bootstrap > envoy/envoy.yaml',
  );
  const c = capture();
  assert.equal(envoyBootstrapCommand([], c.io), 0);
  assert.equal(c.out.join(''), shipped);
});

test('envoy-bootstrap refuses malformed addresses and reports config errors with their line', (t) => {
  const bad = capture();
  assert.equal(envoyBootstrapCommand(['--listen', 'nope'], bad.io), 2);
  assert.match(bad.err.join(''), /--listen expects HOST:PORT/);
  const badExtproc = capture();
  assert.equal(envoyBootstrapCommand(['--extproc', 'relative.sock'], badExtproc.io), 2);
  const dir = fs.mkdtempSync(path.join(root, 'dist', 'bootstrap-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'routes:\n  - model: m\n    backends: [{ backend: missing }]\n');
  const c = capture();
  assert.equal(envoyBootstrapCommand(['--config', file], c.io), 1);
  assert.match(c.err.join(''), /bad\.yaml:3:\d+: .*unknown backend "missing"/);
});

/** Every service config we ship: the embedded default and the deploy/ ones. */
function shippedServiceConfigs(): string[] {
  const deploy = path.join(root, 'deploy');
  return [
    DEFAULT_CONFIG_PATH,
    ...fs
      .readdirSync(deploy)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(deploy, f)),
  ];
}

async function assertEnvoyAccepts(what: string, bootstrap: string): Promise<void> {
  const result = await validateWithEnvoy(bootstrap);
  assert.ok(result.ok, `Envoy 1.40 rejects ${what}:\n${result.output}`);
  assert.deepEqual(result.deprecations, [], `${what} uses fields Envoy 1.40 deprecates`);
}

describe('Envoy 1.40 itself accepts what we generate and ship', () => {
  for (const file of shippedServiceConfigs()) {
    test(`the bootstrap generated for ${path.relative(root, file)}`, async () => {
      const loaded = loadConfigFile(file);
      assert.ok(loaded.ok, file);
      const text = bootstrapYaml(loaded.config, {
        listen: '127.0.0.1:10000',
        extproc: 'unix:/run/llm-extproc/extproc.sock',
      });
      assert.deepEqual(validateEnvoyYaml(text).issues, [], 'strict decoding against our protos');
      await assertEnvoyAccepts(file, text);
    });
  }

  test('a bootstrap mixing TLS providers, plaintext endpoints and failover priorities', async () => {
    const text = bootstrapYaml(
      config(`backends:
  - { name: claude, provider: anthropic, apiKeyEnv: A }
  - { name: gem, provider: gemini, apiKeyEnv: G, priority: 1 }
  - { name: bed, provider: bedrock, region: eu-west-1, priority: 2 }
  - { name: local, provider: openai-compatible, baseUrl: "http://127.0.0.1:8000/v1", priority: 3 }
routes:
  - { model: m, backends: [{ backend: claude }, { backend: gem }, { backend: bed }, { backend: local, weight: 5 }] }
  - { model: "odd.model/name:v1", backends: [{ backend: local }] }`),
    );
    await assertEnvoyAccepts('the mixed bootstrap', text);
  });

  test('a bootstrap with mutual TLS to a non-local llm-extproc (real certificate files)', async (t) => {
    const pki = makeTestPki({ clients: { envoy: 'URI:spiffe://llm.test/ns/gateway/sa/envoy' } });
    t.after(() => pki.remove());
    const envoy = pki.clients['envoy'];
    assert.ok(envoy);
    const text = bootstrapYaml(
      config('backends: [{ name: oai, provider: openai }]\nroutes: [{ model: m, backends: [{ backend: oai }] }]'),
      {
        listen: '127.0.0.1:10000',
        extproc: ['llm-extproc.ai.svc.cluster.local:50051', '10.0.0.7:50051'],
        extprocTls: {
          certFile: envoy.certFile,
          keyFile: envoy.keyFile,
          caFile: pki.caFile,
          serviceSan: 'spiffe://llm.test/ns/ai/sa/llm-extproc',
        },
      },
    );
    assert.deepEqual(validateEnvoyYaml(text).issues, [], 'strict decoding against our protos');
    await assertEnvoyAccepts('the mTLS bootstrap', text);
  });

  test('envoy/envoy.yaml', async () => {
    await assertEnvoyAccepts('envoy/envoy.yaml', fs.readFileSync(path.join(root, 'envoy/envoy.yaml'), 'utf8'));
  });

  test('every patch of the Istio manifests, placed where Istio applies it', async () => {
    const dir = path.join(root, 'envoy/istio');
    const manifests = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS() as unknown));
    assert.ok(manifests.length >= 3);
    await assertEnvoyAccepts('the Istio patches', JSON.stringify(bootstrapWithPatches(manifests)));
  });

  test('every patch of the --xds Istio manifests (EDS clusters over llm-xds, the llm.* route), placed where Istio applies it', async () => {
    const c = config(`backends:
  - { name: claude, provider: anthropic, apiKeyEnv: A }
  - { name: oai, provider: openai, priority: 1 }
  - { name: local, provider: openai-compatible, baseUrl: "http://vllm.ml.svc:8000/v1", priority: 2 }
routes:
  - { model: m, backends: [{ backend: claude }, { backend: oai }, { backend: local }] }
  - { model: n, backends: [{ backend: oai }] }`);
    for (const xdsTransport of ['mesh', 'insecure'] as const) {
      const manifests = istioManifests(c, {
        namespace: 'ai',
        xds: 'llm-extproc.ai.svc.cluster.local:18000',
        xdsTransport,
      });
      const llmClusters = manifests.find((m) => m.file === 'llm-clusters.yaml');
      assert.ok(llmClusters);
      assert.deepEqual(validateEnvoyYaml(istioYaml(llmClusters)).issues, [], 'strict decoding against our protos');
      const bootstrap = bootstrapWithPatches(manifests.map((m) => m.document));
      const routes = JSON.stringify((bootstrap.static_resources as { listeners: unknown[] }).listeners).match(
        /"routes":\[\{"name":"([^"]+)".*?\{"name":"([^"]+)","match"/,
      );
      assert.deepEqual(routes?.slice(1), ['llm.models', 'llm.unrouted'], 'the llm.* route before the catch-all');
      await assertEnvoyAccepts(`the --xds Istio patches (${xdsTransport})`, JSON.stringify(bootstrap));
    }
  });
});
