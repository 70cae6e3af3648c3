// The snapshot's versions and its encoding cache: an unchanged resource keeps its version and is not encoded again
// (a verdict changes only the assignments; re-encoding every cluster made a push with 100 routes miss 100 ms,
// bench/xds-push.ts), a changed one gets a new version, a removed one is gone, and an identical update is silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../util/json.js';
import { CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL } from './resources.js';
import { SnapshotStore } from './snapshot.js';

const cluster = (name: string, timeout = '1s'): JsonObject => ({
  name,
  type: 'EDS',
  connect_timeout: timeout,
  eds_cluster_config: { eds_config: { ads: {} } },
});
const assignment = (name: string, weight: number): JsonObject => ({
  cluster_name: name,
  endpoints: [
    {
      load_balancing_weight: weight,
      lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } }],
    },
  ],
});
const resources = (clusters: Record<string, string>, weights: Record<string, number>) => ({
  clusters: new Map(Object.entries(clusters).map(([n, t]) => [n, cluster(n, t)])),
  loadAssignments: new Map(Object.entries(weights).map(([n, w]) => [n, assignment(n, w)])),
  listeners: new Map(),
});

test('unchanged resources keep their encoding and version; changed ones are re-encoded; removals drop out', () => {
  const store = new SnapshotStore();
  const changes: (readonly string[])[] = [];
  store.on('change', (changed: readonly string[]) => changes.push(changed));
  store.update(resources({ a: '1s', b: '1s' }, { a: 1, b: 1 }));
  const first = { cds: store.get(CLUSTER_TYPE_URL), eds: store.get(ENDPOINT_TYPE_URL) };
  assert.equal(changes.length, 1);

  store.update(resources({ a: '1s', b: '1s' }, { a: 1, b: 1 }));
  assert.equal(changes.length, 1, 'an identical update tells nobody');

  store.update(resources({ a: '1s', b: '1s' }, { a: 5, b: 1 }));
  assert.deepEqual(changes.at(-1), [ENDPOINT_TYPE_URL]);
  const cds = store.get(CLUSTER_TYPE_URL);
  const eds = store.get(ENDPOINT_TYPE_URL);
  assert.equal(cds?.version, first.cds?.version);
  for (const name of ['a', 'b'])
    assert.equal(cds?.resources.get(name), first.cds?.resources.get(name), `cluster ${name}: the same encoded object`);
  assert.equal(eds?.resources.get('b'), first.eds?.resources.get('b'), 'assignment b untouched');
  assert.notEqual(
    eds?.resources.get('a')?.version,
    first.eds?.resources.get('a')?.version,
    'assignment a has a new version',
  );
  assert.notEqual(eds?.version, first.eds?.version);

  store.update(resources({ a: '2s' }, { a: 5 }));
  assert.deepEqual(changes.at(-1), [CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL]);
  assert.deepEqual([...(store.get(CLUSTER_TYPE_URL)?.resources.keys() ?? [])], ['a']);
  // b comes back with the same content: the same version as before (a digest of its bytes), encoded afresh.
  store.update(resources({ a: '2s', b: '1s' }, { a: 5, b: 1 }));
  assert.equal(store.get(CLUSTER_TYPE_URL)?.resources.get('b')?.version, first.cds?.resources.get('b')?.version);
});
