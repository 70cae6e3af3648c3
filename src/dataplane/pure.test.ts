// Unit tests of the pure modules besides mutations: metadata, processing modes, routing, endpoint picking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeDynamicMetadata, jsonToStruct, type DynamicMetadata } from './metadata.js';
import { applyModeOverride, effectiveModes, shouldRemoveContentLength } from './processing-mode.js';
import { CATCH_ALL_ROUTE, ROUTER_EXT_PROC_FILTER, ROUTER_FILTER_SPEC, UPSTREAM_FILTER_SPEC } from './filters.js';
import { selectRoute } from './routing.js';
import { newPickerState, pickEndpoint, priorityLoads } from './endpoint-picker.js';
import { makeTopology } from './testing/harness.js';
import type { Struct__Output } from '../generated/google/protobuf/Struct.js';
import { METADATA_NAMESPACE, ROUTE_HEADER } from '../extproc/contract.js';

/** proto-loader's output shape for a Struct built from JSON (same field names). */
function struct(json: Parameters<typeof jsonToStruct>[0]): Struct__Output {
  return jsonToStruct(json) as Struct__Output;
}

test('dynamic metadata: only receiving namespaces are kept, merged key by key', () => {
  const target: DynamicMetadata = new Map();
  const dropped = mergeDynamicMetadata(target, struct({ [METADATA_NAMESPACE]: { a: 1, b: 'x' }, other: { c: true } }), [
    METADATA_NAMESPACE,
  ]);
  assert.deepEqual(dropped, ['other']);
  mergeDynamicMetadata(target, struct({ [METADATA_NAMESPACE]: { b: 'y', nested: { n: [1, null] } } }), [
    METADATA_NAMESPACE,
  ]);
  assert.deepEqual(Object.fromEntries(target), { [METADATA_NAMESPACE]: { a: 1, b: 'y', nested: { n: [1, null] } } });
});

test('filter specs are derived from the Envoy-shaped filter data', () => {
  assert.equal(ROUTER_FILTER_SPEC.stage, 'router');
  assert.deepEqual(ROUTER_FILTER_SPEC.modes, effectiveModes(ROUTER_EXT_PROC_FILTER.typed_config.processing_mode));
  assert.equal(ROUTER_FILTER_SPEC.allowModeOverride, true);
  assert.equal(UPSTREAM_FILTER_SPEC.stage, 'upstream');
  assert.equal(UPSTREAM_FILTER_SPEC.upstream, true);
  assert.equal(UPSTREAM_FILTER_SPEC.modes.response.body, 'NONE');
  assert.equal(UPSTREAM_FILTER_SPEC.requestAttributes.length, 1);
});

test('mode_override replaces both directions literally (unset fields are proto defaults)', () => {
  const modes = effectiveModes(ROUTER_EXT_PROC_FILTER.typed_config.processing_mode);
  const overridden = applyModeOverride(modes, { response_body_mode: 'STREAMED' });
  assert.deepEqual(overridden.response, { sendHeaders: true, body: 'STREAMED', sendTrailers: false });
  assert.equal(overridden.request.body, 'NONE');
  assert.equal(overridden.request.sendHeaders, true);
});

test('content-length is stripped for STREAMED, BUFFERED_PARTIAL and BUFFERED with header SKIP', () => {
  assert.equal(shouldRemoveContentLength({ sendHeaders: true, body: 'BUFFERED', sendTrailers: false }), false);
  assert.equal(shouldRemoveContentLength({ sendHeaders: false, body: 'BUFFERED', sendTrailers: false }), true);
  assert.equal(shouldRemoveContentLength({ sendHeaders: true, body: 'STREAMED', sendTrailers: false }), true);
  assert.equal(shouldRemoveContentLength({ sendHeaders: true, body: 'BUFFERED_PARTIAL', sendTrailers: false }), true);
  assert.equal(shouldRemoveContentLength({ sendHeaders: true, body: 'NONE', sendTrailers: false }), false);
});

const topology = makeTopology(
  [
    { name: 'p0', baseUrl: 'http://127.0.0.1:1/v1' },
    { name: 'p0b', baseUrl: 'http://127.0.0.1:2/v1' },
    { name: 'p1', baseUrl: 'http://127.0.0.1:3/v1', priority: 1 },
    { name: 'off', baseUrl: 'http://127.0.0.1:4/v1', disabled: true },
  ],
  [
    { model: 'two-priorities', backends: [{ backend: 'p0' }, { backend: 'p1' }] },
    {
      model: 'shared-p0',
      backends: [
        { backend: 'p0', weight: 1 },
        { backend: 'p0b', weight: 3 },
      ],
    },
    { model: 'disabled-first', backends: [{ backend: 'off' }, { backend: 'p1' }] },
    { model: 'all-disabled', backends: [{ backend: 'off' }] },
  ],
);

function routeOf(model: string) {
  const route = topology.routes.get(model);
  assert.ok(route);
  return route;
}

test('route table: exact match on the routing header, else the catch-all 404', () => {
  const hit = selectRoute([[ROUTE_HEADER, 'llm.shared-p0']], topology);
  assert.equal(hit.kind === 'cluster' ? hit.route.model : '', 'shared-p0');
  const catchAll = {
    kind: 'direct',
    status: 404,
    body: CATCH_ALL_ROUTE.direct_response.body.inline_string,
    headers: [['content-type', 'application/json']],
  };
  assert.deepEqual(selectRoute([], topology), catchAll);
  assert.deepEqual(selectRoute([[ROUTE_HEADER, 'llm.nope']], topology), catchAll);
});

test('priority load: overprovisioning 1.4 spills to the next priority as health drops', () => {
  assert.deepEqual(
    priorityLoads(
      [
        { priority: 0, healthy: 1, total: 1 },
        { priority: 1, healthy: 1, total: 1 },
      ],
      140,
    ),
    [100, 0],
  );
  assert.deepEqual(
    priorityLoads(
      [
        { priority: 0, healthy: 1, total: 2 },
        { priority: 1, healthy: 1, total: 1 },
      ],
      140,
    ),
    [70, 30],
  );
  assert.deepEqual(
    priorityLoads(
      [
        { priority: 0, healthy: 0, total: 1 },
        { priority: 1, healthy: 1, total: 1 },
      ],
      140,
    ),
    [0, 100],
  );
  assert.deepEqual(priorityLoads([{ priority: 0, healthy: 0, total: 1 }], 140), [0]);
  assert.deepEqual(
    priorityLoads(
      [
        { priority: 0, healthy: 1, total: 1 },
        { priority: 1, healthy: 1, total: 1 },
      ],
      140,
      new Set([0]),
    ),
    [0, 100],
  );
});

test('picker: lowest priority first; a retry moves to the next priority, then starts over', () => {
  const state = newPickerState();
  const route = routeOf('two-priorities');
  assert.equal(pickEndpoint(route.endpoints, state, () => 0.99)?.backend.name, 'p0');
  assert.equal(pickEndpoint(route.endpoints, state, () => 0)?.backend.name, 'p1');
  assert.equal(pickEndpoint(route.endpoints, state, () => 0)?.backend.name, 'p0');
});

test('picker: disabled backends are unhealthy; none healthy means no host', () => {
  assert.equal(pickEndpoint(routeOf('disabled-first').endpoints, newPickerState(), () => 0)?.backend.name, 'p1');
  assert.equal(
    pickEndpoint(routeOf('all-disabled').endpoints, newPickerState(), () => 0),
    undefined,
  );
});

test('picker: weighted within a priority, previous hosts avoided on retry', () => {
  const route = routeOf('shared-p0');
  assert.equal(pickEndpoint(route.endpoints, newPickerState(), () => 0.2)?.backend.name, 'p0');
  assert.equal(pickEndpoint(route.endpoints, newPickerState(), () => 0.3)?.backend.name, 'p0b');
  const state = newPickerState();
  assert.equal(pickEndpoint(route.endpoints, state, () => 0.9)?.backend.name, 'p0b');
  assert.equal(pickEndpoint(route.endpoints, state, () => 0.9)?.backend.name, 'p0');
});
