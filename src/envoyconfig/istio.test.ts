// The Istio EnvoyFilters: generated from the same blocks as the bootstrap, shipped as envoy/istio/*.yaml for the
// embedded default config (kept identical here); Envoy 1.40 validates their patches in bootstrap.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config/load.js';
import { serviceConfigSchema } from '../config/schema.js';
import { BACKEND_ATTRIBUTE, CLUSTER_BACKEND_ATTRIBUTE } from '../extproc/contract.js';
import { repoRoot } from '../util/repo-root.js';
import { buildBootstrap } from './bootstrap.js';
import { istioManifests, istioYaml } from './istio.js';
import { buildResources } from '../xds/resources.js';
import { istioManifestsCommand } from '../cli/istio-manifests.js';

test('envoy/istio/*.yaml are exactly `llm-extproc istio-manifests` for the embedded default config', () => {
  const loaded = loadConfigFile(DEFAULT_CONFIG_PATH);
  assert.ok(loaded.ok);
  for (const manifest of istioManifests(loaded.config)) {
    const shipped = fs.readFileSync(path.join(repoRoot(), 'envoy/istio', manifest.file), 'utf8');
    assert.equal(
      shipped,
      istioYaml(manifest, 'src/config/default-config.yaml'),
      `regenerate: node dist/src/cli/main.js istio-manifests --out envoy/istio`,
    );
  }
});

test('the Istio filters are the bootstrap filters plus an :authority, and the upstream one also asks for the cluster metadata', () => {
  const config = serviceConfigSchema.parse(
    parse(`backends:
  - { name: oai, provider: openai }
  - { name: local, provider: openai-compatible, baseUrl: "http://vllm.ml.svc:8000/v1" }
routes: [{ model: m, backends: [{ backend: oai }, { backend: local }] }]`),
  );
  const [router, cluster, upstream] = istioManifests(config, { namespace: 'ai', extproc: 'extproc.ai.svc:7000' }).map(
    (m) => JSON.stringify(m.document),
  );
  const bootstrap = buildBootstrap(config);
  const bootstrapRouter = JSON.stringify(bootstrap).match(
    /"name":"envoy.filters.http.ext_proc","typed_config":\{"@type"[^]*?"stat_prefix":"router"\}/,
  )?.[0];
  assert.ok(bootstrapRouter);
  assert.ok(
    router?.includes(
      bootstrapRouter.replace(
        '"cluster_name":"llm-extproc"',
        '"cluster_name":"llm-extproc","authority":"extproc.ai.svc"',
      ),
    ),
    'same router filter',
  );
  assert.match(cluster ?? '', /"type":"STRICT_DNS".*"address":"extproc.ai.svc","port_value":7000/);
  assert.match(
    upstream ?? '',
    /"service":"api.openai.com","portNumber":80/,
    'HTTPS providers: the TLS-origination port',
  );
  assert.match(upstream ?? '', /"service":"vllm.ml.svc","portNumber":8000/);
  assert.ok(upstream?.includes(JSON.stringify([BACKEND_ATTRIBUTE, CLUSTER_BACKEND_ATTRIBUTE])));
  assert.match(upstream ?? '', /"namespace":"ai"/);
});

test('the gateway reaches llm-extproc with Istio mutual TLS by default, insisting on its identity', () => {
  const config = serviceConfigSchema.parse({});
  const clusterOf = (options: Parameters<typeof istioManifests>[1]) =>
    JSON.stringify(istioManifests(config, options).find((m) => m.file === 'extproc-cluster.yaml')?.document);
  const mesh = clusterOf({ namespace: 'ai' });
  assert.match(
    mesh,
    /"tls_certificate_sds_secret_configs":\[\{"name":"default","sds_config":\{"api_config_source":\{"api_type":"GRPC"/,
  );
  assert.match(mesh, /"validation_context_sds_secret_config":\{"name":"ROOTCA"/);
  assert.match(mesh, /"san_type":"URI","matcher":\{"exact":"spiffe:\/\/cluster.local\/ns\/ai\/sa\/llm-extproc"\}/);
  assert.match(
    clusterOf({ namespace: 'ai', extprocIdentity: 'spiffe://td/ns/x/sa/y' }),
    /"exact":"spiffe:\/\/td\/ns\/x\/sa\/y"/,
  );
  assert.doesNotMatch(clusterOf({ extprocTransport: 'insecure' }), /transport_socket/);
});

test('without --xds there are the three manifests and no LLM clusters', () => {
  const manifests = istioManifests(serviceConfigSchema.parse({}));
  assert.deepEqual(
    manifests.map((m) => m.file),
    ['extproc-router-filter.yaml', 'extproc-cluster.yaml', 'llm-upstream-filter.yaml'],
  );
  assert.doesNotMatch(JSON.stringify(manifests), /llm-xds|"type":"EDS"/);
});

describe('--xds: llm-clusters.yaml, the EDS clusters from the service in the mesh', () => {
  const config = serviceConfigSchema.parse(
    parse(`backends:
  - { name: oai, provider: openai }
  - { name: local, provider: openai-compatible, baseUrl: "http://vllm.ml.svc:8000/v1", priority: 1 }
routes:
  - { model: m, backends: [{ backend: oai }, { backend: local }] }
  - { model: n, backends: [{ backend: oai }] }`),
  );
  const manifests = istioManifests(config, { namespace: 'ai', xds: 'llm-extproc.ai.svc:18000' });
  const llm = manifests.find((m) => m.file === 'llm-clusters.yaml');
  type Patch = {
    applyTo: string;
    match: Record<string, unknown>;
    patch: { operation: string; value: Record<string, unknown> };
  };
  const patches = ((llm?.document.spec as { configPatches: unknown[] } | undefined)?.configPatches ?? []) as Patch[];
  const added = patches.filter((p) => p.applyTo === 'CLUSTER').map((p) => p.patch.value);

  test('a fourth manifest, the first three unchanged', () => {
    assert.equal(manifests.length, 4);
    assert.deepEqual(manifests.slice(0, 3), istioManifests(config, { namespace: 'ai' }));
    assert.ok(patches.every((p) => (p.match as { context: string }).context === 'GATEWAY'));
    assert.ok(patches.filter((p) => p.applyTo === 'CLUSTER').every((p) => p.patch.operation === 'ADD'));
  });

  test('llm-xds: HTTP/2 to the xDS port with Istio mutual TLS, insisting on the service identity', () => {
    const xds = JSON.stringify(added.find((c) => c.name === 'llm-xds'));
    assert.match(xds, /"type":"STRICT_DNS".*"address":"llm-extproc.ai.svc","port_value":18000/);
    assert.match(xds, /"http2_protocol_options"/);
    assert.match(xds, /"tls_certificate_sds_secret_configs":\[\{"name":"default"/);
    assert.match(xds, /"validation_context_sds_secret_config":\{"name":"ROOTCA"/);
    assert.match(xds, /"exact":"spiffe:\/\/cluster.local\/ns\/ai\/sa\/llm-extproc"/);
    const other = (options: Parameters<typeof istioManifests>[1]) =>
      JSON.stringify(istioManifests(config, options)[3]?.document);
    assert.match(
      other({ xds: 'x.ai.svc:1', xdsIdentity: 'spiffe://td/ns/x/sa/cp' }),
      /"exact":"spiffe:\/\/td\/ns\/x\/sa\/cp"/,
    );
    assert.doesNotMatch(
      other({ xds: 'x.ai.svc:1', xdsTransport: 'insecure' }).split('"name":"llm.')[0] ?? '',
      /transport_socket/,
    );
  });

  test("one EDS cluster per route over llm-xds (delta, not ADS): the control plane's CDS resources otherwise", () => {
    const published = buildResources({
      config,
      disabledBackends: new Set(),
      addresses: () => [],
      state: () => undefined,
    }).clusters;
    const llmClusters = added.filter((c) => c.name !== 'llm-xds');
    assert.deepEqual(
      llmClusters.map((c) => c.name),
      ['llm.m', 'llm.n'],
    );
    for (const cluster of llmClusters) {
      assert.equal(cluster.type, 'EDS');
      assert.deepEqual(cluster.eds_cluster_config, {
        eds_config: {
          api_config_source: {
            api_type: 'DELTA_GRPC',
            transport_api_version: 'V3',
            grpc_services: [{ envoy_grpc: { cluster_name: 'llm-xds' } }],
            set_node_on_first_message_only: true,
          },
          resource_api_version: 'V3',
        },
      });
      // Same as published, up to the EDS source and the upstream filter's :authority.
      const cds = published.get(String(cluster.name));
      const normalise = (c: unknown) =>
        JSON.stringify({ ...(c as Record<string, unknown>), eds_cluster_config: 'source' }).replace(
          ',"authority":"llm-extproc.ai.svc.cluster.local"',
          '',
        );
      assert.equal(normalise(cluster), normalise(cds));
      assert.match(
        JSON.stringify(cluster),
        /"cluster_name":"llm-extproc","authority":"llm-extproc.ai.svc.cluster.local"/,
      );
    }
  });

  test('the route: llm.* route header to the cluster it names, before the VirtualService catch-all', () => {
    const route = patches.find((p) => p.applyTo === 'HTTP_ROUTE');
    assert.ok(route);
    assert.deepEqual(route.match, {
      context: 'GATEWAY',
      routeConfiguration: { vhost: { route: { name: 'llm.unrouted' } } },
    });
    assert.equal(route.patch.operation, 'INSERT_BEFORE');
    const bootstrapRoute = JSON.stringify(buildBootstrap(config, { xds: { address: '127.0.0.1:18000' } })).match(
      /\{"name":"llm.models".*?"max_interval":"10s"\}\}\}\}/,
    )?.[0];
    assert.ok(bootstrapRoute);
    assert.equal(JSON.stringify(route.patch.value), bootstrapRoute, "the bootstrap's dynamic model route");
    assert.match(bootstrapRoute, /"string_match":\{"prefix":"llm."\}.*"cluster_header":"x-llm-extproc-route"/);
  });

  test('the CLI: --xds HOST:PORT adds llm-clusters.yaml; its companions need it', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } };
    assert.equal(istioManifestsCommand(['--xds', 'nope'], io), 2);
    assert.equal(istioManifestsCommand(['--xds-insecure'], io), 2);
    assert.match(err.join(''), /--xds expects HOST:PORT[^]*go with --xds/);
    assert.equal(
      istioManifestsCommand(['--xds', 'llm-extproc.ai.svc:18000', '--xds-identity', 'spiffe://td/cp'], io),
      0,
    );
    assert.match(out.join(''), /name: llm-extproc-llm-clusters[^]*exact: spiffe:\/\/td\/cp[^]*type: EDS/);
  });
});
