// The Istio EnvoyFilters: generated from the same blocks as the bootstrap, shipped as envoy/istio/*.yaml for the
// embedded default config (kept identical here); Envoy 1.40 validates their patches in bootstrap.test.ts.
import { test } from 'node:test';
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

test('envoy/istio/*.yaml are exactly `llm-extproc istio-manifests` for the embedded default config', () => {
  const loaded = loadConfigFile(DEFAULT_CONFIG_PATH);
  assert.ok(loaded.ok);
  for (const manifest of istioManifests(loaded.config)) {
    const shipped = fs.readFileSync(path.join(repoRoot(), 'envoy/istio', manifest.file), 'utf8');
    assert.equal(shipped, istioYaml(manifest, 'src/config/default-config.yaml'), `regenerate: node dist/src/cli/main.js istio-manifests --out envoy/istio`);
  }
});

test('the Istio filters are the bootstrap filters plus an :authority, and the upstream one also asks for the cluster metadata', () => {
  const config = serviceConfigSchema.parse(
    parse(`backends:
  - { name: oai, provider: openai }
  - { name: local, provider: openai-compatible, baseUrl: "http://vllm.ml.svc:8000/v1" }
routes: [{ model: m, backends: [{ backend: oai }, { backend: local }] }]`),
  );
  const [router, cluster, upstream] = istioManifests(config, { namespace: 'ai', extproc: 'extproc.ai.svc:7000' }).map((m) => JSON.stringify(m.document));
  const bootstrap = buildBootstrap(config);
  const bootstrapRouter = JSON.stringify(bootstrap).match(/"name":"envoy.filters.http.ext_proc","typed_config":\{"@type"[^]*?"stat_prefix":"router"\}/)?.[0];
  assert.ok(bootstrapRouter);
  assert.ok(router?.includes(bootstrapRouter.replace('"cluster_name":"llm-extproc"', '"cluster_name":"llm-extproc","authority":"extproc.ai.svc"')), 'same router filter');
  assert.match(cluster ?? '', /"type":"STRICT_DNS".*"address":"extproc.ai.svc","port_value":7000/);
  assert.match(upstream ?? '', /"service":"api.openai.com","portNumber":80/, 'HTTPS providers: the TLS-origination port');
  assert.match(upstream ?? '', /"service":"vllm.ml.svc","portNumber":8000/);
  assert.ok(upstream?.includes(JSON.stringify([BACKEND_ATTRIBUTE, CLUSTER_BACKEND_ATTRIBUTE])));
  assert.match(upstream ?? '', /"namespace":"ai"/);
});

test('the gateway reaches llm-extproc with Istio mutual TLS by default, insisting on its identity', () => {
  const config = serviceConfigSchema.parse({});
  const clusterOf = (options: Parameters<typeof istioManifests>[1]) =>
    JSON.stringify(istioManifests(config, options).find((m) => m.file === 'extproc-cluster.yaml')?.document);
  const mesh = clusterOf({ namespace: 'ai' });
  assert.match(mesh, /"tls_certificate_sds_secret_configs":\[\{"name":"default","sds_config":\{"api_config_source":\{"api_type":"GRPC"/);
  assert.match(mesh, /"validation_context_sds_secret_config":\{"name":"ROOTCA"/);
  assert.match(mesh, /"san_type":"URI","matcher":\{"exact":"spiffe:\/\/cluster.local\/ns\/ai\/sa\/llm-extproc"\}/);
  assert.match(clusterOf({ namespace: 'ai', extprocIdentity: 'spiffe://td/ns/x/sa/y' }), /"exact":"spiffe:\/\/td\/ns\/x\/sa\/y"/);
  assert.doesNotMatch(clusterOf({ extprocTransport: 'insecure' }), /transport_socket/);
});
