import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedRegistry } from './registry.js';
import { decodeStrict, type DecodeIssue } from './strict-decode.js';
import { validateEnvoyYaml } from './files.js';

const registry = sharedRegistry();
const EXT_PROC = 'envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';
const EXT_PROC_URL = `type.googleapis.com/${EXT_PROC}`;

function decode(type: string, value: unknown, partial = false): DecodeIssue[] {
  return decodeStrict(registry, type, value, { partial });
}

function only(issues: DecodeIssue[]): DecodeIssue {
  assert.equal(issues.length, 1, `expected exactly one issue, got ${JSON.stringify(issues, null, 2)}`);
  return issues[0] as DecodeIssue;
}

const validExtProc = {
  grpc_service: {
    envoy_grpc: { cluster_name: 'llm-extproc' },
    initial_metadata: [{ key: 'x-llm-extproc-stage', value: 'router' }],
  },
  processing_mode: { request_header_mode: 'SEND', requestBodyMode: 'BUFFERED', response_body_mode: 2 },
  message_timeout: '10s',
  max_message_timeout: '1.5s',
  allow_mode_override: true,
  request_attributes: ["xds.upstream_host_metadata.filter_metadata['llm-extproc']['backend']"],
  metadata_options: { receiving_namespaces: { untyped: ['llm-extproc'] } },
  filter_metadata: { any: ['json', 1, null, { nested: true }] },
};

test('a valid ext_proc config decodes with no issues (snake_case and lowerCamel names, enum names and numbers)', () => {
  assert.deepEqual(decode(EXT_PROC, validExtProc), []);
  const { processing_mode, ...rest } = validExtProc;
  assert.deepEqual(
    decode(EXT_PROC, { ...rest, processingMode: processing_mode, messageTimeout: '2s' }).map((i) => i.message),
    ['field set twice (as "message_timeout" and "messageTimeout")'],
  );
});

test('well-known types accept their proto3 JSON forms', () => {
  assert.deepEqual(decode('google.protobuf.Duration', '0s'), []);
  assert.deepEqual(decode('google.protobuf.Timestamp', '2024-05-01T12:00:00.5Z'), []);
  assert.deepEqual(decode('google.protobuf.FieldMask', 'fooBar,baz.qux'), []);
  assert.deepEqual(decode('google.protobuf.Empty', {}), []);
  assert.deepEqual(decode('google.protobuf.Value', null), []);
  assert.deepEqual(
    decode('google.protobuf.Any', { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' }),
    [],
  );
  // Wrappers are plain scalars; int64 may be a string of digits; bytes are base64.
  assert.deepEqual(
    decode('envoy.config.route.v3.RetryPolicy', {
      num_retries: 2,
      host_selection_retry_max_attempts: '5',
      per_try_timeout: '0.250s',
    }),
    [],
  );
  assert.deepEqual(decode('envoy.config.core.v3.HeaderValue', { key: 'x', raw_value: 'aGVsbG8=' }), []);
});

test('a TypedStruct typed_config is accepted as opaque', () => {
  const filter = {
    name: 'custom',
    typed_config: {
      '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
      type_url: 'type.googleapis.com/some.custom.Filter',
      value: { anything: [1, 'x'] },
    },
  };
  assert.deepEqual(decode('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', filter), []);
});

test('an unknown field is an error naming its exact path, with a suggestion', () => {
  const cluster = {
    name: 'llm.x',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        auto_config: {},
        http_filters: [
          {
            name: 'envoy.filters.http.ext_proc',
            typed_config: {
              '@type': EXT_PROC_URL,
              grpc_service: { envoy_grpc: { cluster_name: 'a' } },
              processing_mode: { request_body_mod: 'BUFFERED' },
            },
          },
        ],
      },
    },
  };
  const issue = only(decode('envoy.config.cluster.v3.Cluster', cluster));
  assert.equal(
    issue.path,
    'typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].http_filters[0].typed_config.processing_mode.request_body_mod',
  );
  assert.match(issue.message, /^unknown field .*did you mean "request_body_mode"/);
  assert.equal(issue.atKey, true);
});

test('a wrong scalar type is an error', () => {
  const issue = only(decode('envoy.config.core.v3.SocketAddress', { address: '127.0.0.1', port_value: 'http' }));
  assert.equal(issue.path, 'port_value');
  assert.match(issue.message, /expected uint32/);
  assert.match(
    only(decode('envoy.config.core.v3.HeaderValue', { key: 'x-n', value: 429 })).message,
    /expected string.*quote it/,
  );
  assert.match(
    only(decode('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 70000.5 })).message,
    /expected uint32/,
  );
  assert.match(
    only(decode('envoy.config.route.v3.RetryPolicy', { host_selection_retry_max_attempts: '12x' })).message,
    /expected int64/,
  );
});

test('a repeated field must be a list and a map field a mapping', () => {
  assert.equal(only(decode(EXT_PROC, { ...validExtProc, request_attributes: 'one' })).path, 'request_attributes');
  assert.match(
    only(decode('envoy.config.core.v3.Metadata', { filter_metadata: ['x'] })).message,
    /expected a mapping \(map<string/,
  );
});

test('an unknown enum name is an error listing the valid names', () => {
  const issue = only(decode(EXT_PROC, { ...validExtProc, processing_mode: { response_body_mode: 'BUFFERD' } }));
  assert.equal(issue.path, 'processing_mode.response_body_mode');
  assert.match(issue.message, /unknown enum value "BUFFERD".*NONE, STREAMED, BUFFERED, BUFFERED_PARTIAL/);
});

test('an unresolvable @type is an error on the @type key', () => {
  const filter = {
    name: 'x',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope' },
  };
  const issue = only(decode('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', filter));
  assert.equal(issue.path, 'typed_config["@type"]');
  assert.match(issue.message, /cannot resolve type "envoy\.extensions\.filters\.http\.nope\.v3\.Nope"/);
  const missing = only(
    decode('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', {
      name: 'x',
      typed_config: { foo: 1 },
    }),
  );
  assert.match(missing.message, /missing "@type"/);
});

test('setting two members of a oneof is an error naming the later one', () => {
  const route = { match: { prefix: '/' }, route: { cluster: 'a' }, direct_response: { status: 404 } };
  const issue = only(decode('envoy.config.route.v3.Route', route));
  assert.equal(issue.path, 'direct_response');
  assert.match(issue.message, /only one of route, direct_response may be set \(oneof "action"\)/);
});

test('a bad Duration string is an error', () => {
  for (const bad of ['10', '1m', 10, '1.5 s']) {
    const issue = only(decode(EXT_PROC, { ...validExtProc, message_timeout: bad }));
    assert.equal(issue.path, 'message_timeout');
    assert.match(issue.message, /expected a duration string/);
  }
});

test('a field given under both its names is an error', () => {
  const issue = only(decode('envoy.config.core.v3.SocketAddress', { address: 'a', port_value: 1, portValue: 2 }));
  assert.match(issue.message, /field set twice \(as "port_value" and "portValue"\)/);
});

test('null means "not set", also for oneof members', () => {
  assert.deepEqual(
    decode('envoy.config.route.v3.Route', { match: { prefix: '/' }, route: { cluster: 'a' }, direct_response: null }),
    [],
  );
});

test('every problem is collected, not just the first', () => {
  const issues = decode(EXT_PROC, {
    ...validExtProc,
    message_timeout: 5,
    bogus: 1,
    processing_mode: { request_body_mode: 'NOPE' },
  });
  assert.deepEqual(issues.map((i) => i.path).sort(), ['bogus', 'message_timeout', 'processing_mode.request_body_mode']);
});

test('validate rules: a required message must be present, except in a partial (MERGE) patch', () => {
  // (ext_proc's grpc_service stopped being PGV-required in 1.40: it now shares a oneof with http_service.)
  const HEADER_FILTER = 'envoy.config.accesslog.v3.HeaderFilter';
  const issue = only(decode(HEADER_FILTER, {}));
  assert.equal(issue.path, 'header');
  assert.match(issue.message, /value is required/);
  assert.deepEqual(decode(HEADER_FILTER, {}, true), []);
  assert.match(only(decode('envoy.config.cluster.v3.Cluster', {})).message, /at least 1 characters/);
  assert.match(
    only(
      decode('envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', {
        update_frequency: 0,
      }),
    ).message,
    /greater than 0/,
  );
});

test('issues from YAML carry the line and column of the offending key or value', () => {
  const yaml = [
    'admin:',
    '  address:',
    '    socket_address:',
    '      address: 127.0.0.1',
    '      port_value: 9901',
    '      portt: 1',
    'static_resources:',
    '  clusters:',
    '    - name: a',
    '      connect_timeout: 5',
    '',
  ].join('\n');
  const { issues } = validateEnvoyYaml(yaml, registry);
  assert.deepEqual(
    issues.map((i) => [i.path, i.position?.line, i.position?.col]),
    [
      ['admin.address.socket_address.portt', 6, 7],
      ['static_resources.clusters[0].connect_timeout', 10, 24],
    ],
  );
});

test('YAML syntax errors are reported with a position', () => {
  const { issues } = validateEnvoyYaml('admin:\n  address: [1, 2\n', registry);
  assert.ok(issues.length > 0);
  assert.ok(issues.every((i) => i.severity === 'error' && i.message.startsWith('YAML:')));
  assert.ok(issues[0]?.position);
});

test('an EnvoyFilter patch value is decoded by applyTo, and MERGE values as partial messages', () => {
  const manifest = `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: f, namespace: ns}
spec:
  workloadSelector: {labels: {app: x}}
  configPatches:
    - applyTo: CLUSTER
      match: {context: GATEWAY, cluster: {service: api.openai.com}}
      patch:
        operation: MERGE
        value: {common_lb_config: {update_merge_window: 0s}}
    - applyTo: HTTP_FILTER
      match: {context: SIDECAR_OUTBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.ext_proc
          typed_config: {"@type": ${EXT_PROC_URL}, grpc_service: {envoy_grpc: {cluster_name: a}}, message_timeout: 1}
`;
  const { issues, description } = validateEnvoyYaml(manifest, registry);
  assert.match(description, /Istio EnvoyFilter ns\/f/);
  assert.deepEqual(
    issues.map((i) => [i.path, i.position?.line]),
    [['spec.configPatches[1].patch.value.typed_config.message_timeout', 19]],
  );
});

test('the EnvoyFilter outer structure is checked (unknown keys, bad applyTo, other kinds)', () => {
  const manifest = `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: f}
spec:
  workloadSelectr: {labels: {app: x}}
  configPatches:
    - applyTo: HTTP_FILTERS
      patch: {operation: ADD, value: {name: x}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
`;
  const { issues } = validateEnvoyYaml(manifest, registry);
  const paths = issues.map((i) => `${i.path}@${i.position?.line}`);
  assert.ok(paths.includes('spec.workloadSelectr@6'), paths.join(', '));
  assert.ok(paths.includes('spec.configPatches[0].applyTo@8'), paths.join(', '));
  const kind = issues.find((i) => i.path === 'kind');
  assert.match(kind?.message ?? '', /unsupported kind "VirtualService"/);
  assert.equal(kind?.position?.line, 12);
});
