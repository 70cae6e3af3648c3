// The data plane reproduces envoy/envoy.yaml: the filter settings it runs with must be the ones we ship.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../util/repo-root.js';
import { serviceConfigSchema } from '../config/schema.js';
import { ROUTER_EXT_PROC_FILTER, ROUTE_RETRY_POLICY, UPSTREAM_EXT_PROC_FILTER } from './filters.js';

type Json = Record<string, unknown>;
const DEFAULTS = serviceConfigSchema.parse({});
const bootstrap = parse(fs.readFileSync(path.join(repoRoot(), 'envoy/envoy.yaml'), 'utf8')) as Json;

function get(value: unknown, ...keys: Array<string | number>): unknown {
  let current = value;
  for (const key of keys) current = (current as Record<string | number, unknown> | undefined)?.[key];
  return current;
}

const listener = get(
  bootstrap,
  'static_resources',
  'listeners',
  0,
  'filter_chains',
  0,
  'filters',
  0,
  'typed_config',
) as Json;
const routerFilter = (get(listener, 'http_filters') as Json[]).find((f) => f.name === 'envoy.filters.http.ext_proc');
const clusters = get(bootstrap, 'static_resources', 'clusters') as Json[];
const llmClusters = clusters.filter((c) => String(c.name).startsWith('llm.'));

/** The fields of an ext_proc typed_config the data plane models. */
function modelled(typedConfig: unknown) {
  return {
    cluster: get(typedConfig, 'grpc_service', 'envoy_grpc', 'cluster_name'),
    initialMetadata: get(typedConfig, 'grpc_service', 'initial_metadata'),
    processingMode: get(typedConfig, 'processing_mode'),
    allowModeOverride: get(typedConfig, 'allow_mode_override') ?? false,
    failureModeAllow: get(typedConfig, 'failure_mode_allow') ?? false,
    requestAttributes: get(typedConfig, 'request_attributes') ?? [],
  };
}

test('the router-level ext_proc filter matches envoy/envoy.yaml', () => {
  assert.ok(routerFilter, 'envoy.yaml has a router-level ext_proc filter');
  assert.deepEqual(modelled(routerFilter.typed_config), modelled(ROUTER_EXT_PROC_FILTER.typed_config));
  assert.deepEqual(
    get(routerFilter.typed_config, 'metadata_options', 'receiving_namespaces', 'untyped'),
    ROUTER_EXT_PROC_FILTER.typed_config.metadata_options.receiving_namespaces.untyped,
  );
});

test('every LLM cluster runs the upstream ext_proc filter the data plane models, before upstream_codec', () => {
  assert.ok(llmClusters.length > 0);
  for (const cluster of llmClusters) {
    const filters = get(
      cluster,
      'typed_extension_protocol_options',
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      'http_filters',
    ) as Json[];
    assert.equal(
      filters.at(-1)?.name,
      'envoy.filters.http.upstream_codec',
      `${String(cluster.name)}: upstream_codec last`,
    );
    const extProc = filters.find((f) => f.name === 'envoy.filters.http.ext_proc');
    assert.deepEqual(
      modelled(extProc?.typed_config),
      modelled(UPSTREAM_EXT_PROC_FILTER.typed_config),
      String(cluster.name),
    );
  }
});

test('model routes retry on the conditions the data plane retries on, with the same host and priority plugins', () => {
  const routes = get(listener, 'route_config', 'virtual_hosts', 0, 'routes') as Json[];
  const modelRoutes = routes.filter(
    (r) => get(r, 'route', 'cluster') !== undefined && String(get(r, 'route', 'cluster')).startsWith('llm.'),
  );
  assert.ok(modelRoutes.length > 0);
  for (const route of modelRoutes) {
    const policy = get(route, 'route', 'retry_policy') as Json;
    const retryOn = String(policy.retry_on).split(',');
    for (const condition of ROUTE_RETRY_POLICY.retry_on.split(','))
      assert.ok(retryOn.includes(condition), `retry_on has ${condition}`);
    assert.equal(get(policy, 'retry_priority', 'name'), ROUTE_RETRY_POLICY.retry_priority.name);
    assert.deepEqual(
      policy.retriable_status_codes,
      DEFAULTS.dataPlane.retriableStatusCodes,
      'same codes as the data plane default',
    );
    assert.equal(policy.num_retries, DEFAULTS.dataPlane.numRetries);
    assert.deepEqual(
      (policy.retry_host_predicate as Json[]).map((p) => p.name),
      ROUTE_RETRY_POLICY.retry_host_predicate.map((p) => p.name),
    );
  }
});
