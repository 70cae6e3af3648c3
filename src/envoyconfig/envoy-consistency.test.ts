// envoy/envoy.yaml (and the Istio manifests) must agree with the wire contract and the default service config:
// a renamed header or namespace on one side would otherwise only show up as a silently broken deployment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  BACKEND_ATTRIBUTE,
  CLUSTER_BACKEND_ATTRIBUTE,
  ENDPOINT_BACKEND_KEY,
  EXT_PROC_FILTER_NAME,
  METADATA_NAMESPACE,
  ROUTE_HEADER,
  STAGE_METADATA_KEY,
  type Stage,
} from '../extproc/contract.js';
import { serviceConfigSchema } from '../config/schema.js';
import { clusterNameForModel, resolveTopology } from '../config/topology.js';
import { isRecord } from '../util/json.js';
import { repoRoot } from '../util/repo-root.js';

type Rec = Record<string, unknown>;

function rec(v: unknown, what: string): Rec {
  assert.ok(isRecord(v), `${what} should be a mapping`);
  return v;
}
function list(v: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(v), `${what} should be a list`);
  return v;
}
/** Follows keys (strings) and indexes (numbers) through nested YAML values. */
function at(v: unknown, ...keys: (string | number)[]): unknown {
  let cur = v;
  for (const k of keys) cur = typeof k === 'number' ? list(cur, `[${k}]`)[k] : rec(cur, k)[k];
  return cur;
}

const root = repoRoot();
const readYaml = (rel: string): unknown => parse(fs.readFileSync(path.join(root, rel), 'utf8'));
const bootstrap = readYaml('envoy/envoy.yaml');
const config = serviceConfigSchema.parse(readYaml('src/config/default-config.yaml'));

const hcm = at(bootstrap, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config');
const httpFilters = list(at(hcm, 'http_filters'), 'http_filters');
const routes = list(at(hcm, 'route_config', 'virtual_hosts', 0, 'routes'), 'routes');
const clusters = list(at(bootstrap, 'static_resources', 'clusters'), 'clusters').map((c, i) =>
  rec(c, `clusters[${i}]`),
);
const cluster = (name: string): Rec => {
  const found = clusters.find((c) => c['name'] === name);
  assert.ok(found, `cluster ${name} exists`);
  return found;
};
const seconds = (ms: number): string => `${ms / 1000}s`;

function assertStage(extProc: unknown, stage: Stage): void {
  assert.deepEqual(at(extProc, 'grpc_service', 'initial_metadata'), [{ key: STAGE_METADATA_KEY, value: stage }]);
  assert.equal(at(extProc, 'grpc_service', 'envoy_grpc', 'cluster_name'), 'llm-extproc');
  assert.equal(at(extProc, 'failure_mode_allow'), false);
  assert.equal(at(extProc, 'message_timeout'), seconds(config.dataPlane.messageTimeoutMs));
}

test('the router-level ext_proc comes first, sends the stage "router" and may write our metadata namespace', () => {
  const first = rec(httpFilters[0], 'http_filters[0]');
  assert.equal(first['name'], EXT_PROC_FILTER_NAME);
  assert.equal(rec(httpFilters.at(-1), 'last filter')['name'], 'envoy.filters.http.router');
  const extProc = first['typed_config'];
  assertStage(extProc, 'router');
  assert.deepEqual(at(extProc, 'metadata_options', 'receiving_namespaces', 'untyped'), [METADATA_NAMESPACE]);
  assert.equal(at(extProc, 'allow_mode_override'), true);
  assert.deepEqual(at(extProc, 'processing_mode'), {
    request_header_mode: 'SEND',
    request_body_mode: 'BUFFERED',
    response_header_mode: 'SEND',
    response_body_mode: 'BUFFERED',
    request_trailer_mode: 'SKIP',
    response_trailer_mode: 'SKIP',
  });
});

test('each configured route has a header route to its llm.<model> cluster, then a catch-all', () => {
  for (const r of config.routes) {
    const name = clusterNameForModel(r.model);
    const route = routes.map((x) => rec(x, 'route')).find((x) => at(x, 'route', 'cluster') === name);
    assert.ok(route, `a route to ${name}`);
    assert.deepEqual(at(route, 'match', 'headers'), [{ name: ROUTE_HEADER, string_match: { exact: name } }]);
    assert.equal(at(route, 'route', 'auto_host_rewrite'), true);
    assert.equal(at(route, 'route', 'timeout'), seconds(config.dataPlane.routeTimeoutMs));
    assert.equal(at(route, 'route', 'retry_policy', 'num_retries'), config.dataPlane.numRetries);
    assert.deepEqual(
      at(route, 'route', 'retry_policy', 'retriable_status_codes'),
      config.dataPlane.retriableStatusCodes,
    );
  }
  const last = rec(routes.at(-1), 'last route');
  assert.deepEqual(last['match'], { prefix: '/' });
  assert.equal(at(last, 'direct_response', 'status'), 404);
});

test('each llm.<model> cluster holds the route backends at their priorities, with the upstream ext_proc', () => {
  const backends = new Map(config.backends.map((b) => [b.name, b]));
  const resolved = resolveTopology(config, {}).backends;
  for (const r of config.routes) {
    const c = cluster(clusterNameForModel(r.model));
    const actual = list(at(c, 'load_assignment', 'endpoints'), 'endpoints').flatMap((group) =>
      list(at(group, 'lb_endpoints'), 'lb_endpoints').map((e) => ({
        backend: at(e, 'metadata', 'filter_metadata', METADATA_NAMESPACE, ENDPOINT_BACKEND_KEY),
        priority: rec(group, 'endpoints group')['priority'] ?? 0,
        address: at(e, 'endpoint', 'address', 'socket_address', 'address'),
        port: at(e, 'endpoint', 'address', 'socket_address', 'port_value'),
      })),
    );
    const expected = r.backends.map((ref) => {
      const backend = backends.get(ref.backend);
      assert.ok(backend, `backend ${ref.backend}`);
      const url = resolved.get(ref.backend)?.baseUrl;
      assert.ok(url, `resolved backend ${ref.backend}`);
      return {
        backend: ref.backend,
        priority: ref.priority ?? backend.priority,
        address: url.hostname,
        port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      };
    });
    assert.deepEqual(actual, expected, `endpoints of ${String(c['name'])}`);
    if (expected.every((e) => e.port === 443)) {
      assert.equal(at(c, 'transport_socket', 'typed_config', 'sni'), expected[0]?.address);
    }
    const options = at(c, 'typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    const filters = list(at(options, 'http_filters'), 'http_filters').map((f) => rec(f, 'filter'));
    assert.equal(filters[0]?.['name'], EXT_PROC_FILTER_NAME);
    assert.equal(filters.at(-1)?.['name'], 'envoy.filters.http.upstream_codec');
    const extProc = filters[0]?.['typed_config'];
    assertStage(extProc, 'upstream');
    assert.deepEqual(at(extProc, 'request_attributes'), [BACKEND_ATTRIBUTE]);
    assert.equal(at(extProc, 'processing_mode', 'request_header_mode'), 'SEND');
    assert.equal(at(extProc, 'processing_mode', 'response_body_mode'), 'NONE');
    assert.equal(at(c, 'outlier_detection', 'enforcing_consecutive_gateway_failure'), 100);
    assert.equal(at(c, 'common_lb_config', 'update_merge_window'), '0s');
  }
});

test('the llm-extproc cluster and the listener buffer match the service config', () => {
  const [host, port] = config.extproc.address.split(':');
  const c = cluster('llm-extproc');
  assert.equal(
    at(c, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'address'),
    host,
  );
  assert.equal(
    at(c, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value'),
    Number(port),
  );
  assert.ok(
    at(
      c,
      'typed_extension_protocol_options',
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      'explicit_http_config',
      'http2_protocol_options',
    ),
  );
  assert.equal(
    at(bootstrap, 'static_resources', 'listeners', 0, 'per_connection_buffer_limit_bytes'),
    config.dataPlane.bufferLimitBytes,
  );
});

test('the access log prints our dynamic metadata (the whole namespace, as one JSON object)', () => {
  const format = JSON.stringify(at(hcm, 'access_log', 0, 'typed_config', 'log_format', 'json_format'));
  assert.ok(format.includes(`%DYNAMIC_METADATA(${METADATA_NAMESPACE})%`));
  for (const op of [
    '%RESPONSE_CODE%',
    '%RESPONSE_CODE_DETAILS%',
    '%UPSTREAM_HOST%',
    '%DURATION%',
    '%REQ(X-REQUEST-ID)%',
  ])
    assert.ok(format.includes(op), op);
});

test('the Istio manifests use the same stages, modes and backend attribute as envoy.yaml', () => {
  const patchValue = (file: string, i: number): unknown =>
    at(readYaml(`envoy/istio/${file}`), 'spec', 'configPatches', i, 'patch', 'value');
  const routerIstio = at(patchValue('extproc-router-filter.yaml', 0), 'typed_config');
  const routerEnvoy = at(httpFilters[0], 'typed_config');
  assertStage(routerIstio, 'router');
  assert.deepEqual(at(routerIstio, 'processing_mode'), at(routerEnvoy, 'processing_mode'));
  assert.deepEqual(at(routerIstio, 'metadata_options'), at(routerEnvoy, 'metadata_options'));
  const upstreamIstio = at(
    patchValue('llm-upstream-filter.yaml', 0),
    'typed_extension_protocol_options',
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    'http_filters',
    0,
    'typed_config',
  );
  assertStage(upstreamIstio, 'upstream');
  assert.ok(list(at(upstreamIstio, 'request_attributes'), 'request_attributes').includes(BACKEND_ATTRIBUTE));
  assert.ok(list(at(upstreamIstio, 'request_attributes'), 'request_attributes').includes(CLUSTER_BACKEND_ATTRIBUTE));
  const upstreamEnvoy = at(
    clusters[0],
    'typed_extension_protocol_options',
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    'http_filters',
    0,
    'typed_config',
  );
  assert.deepEqual(at(upstreamIstio, 'processing_mode'), at(upstreamEnvoy, 'processing_mode'));
  assert.equal(at(patchValue('extproc-cluster.yaml', 0), 'name'), 'llm-extproc');
});
