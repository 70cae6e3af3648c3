// EDS priorities as published: the config's levels in order, renumbered without gaps, and every backend the
// verdicts or an operator took out (UNHEALTHY, DRAINING) in one last level of its own, so that Envoy's per-priority
// panic threshold never spills traffic onto them while a healthy or degraded backend is left
// (test/e2e/health-panic.test.ts shows it through Envoy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPublishedPriorities, type EndpointHealth } from './resources.js';

type Row = readonly [name: string, backends: readonly (readonly [number, EndpointHealth])[], published: number[]];

const TABLE: readonly Row[] = [
  [
    'all healthy: the config’s levels',
    [
      [0, 'HEALTHY'],
      [0, 'HEALTHY'],
      [1, 'HEALTHY'],
    ],
    [0, 0, 1],
  ],
  [
    'two of three out at 0: they move behind the healthy one',
    [
      [0, 'UNHEALTHY'],
      [0, 'DRAINING'],
      [0, 'HEALTHY'],
    ],
    [1, 1, 0],
  ],
  [
    'degraded stays in its level (the panic rule’s hold)',
    [
      [0, 'DEGRADED'],
      [0, 'UNHEALTHY'],
      [1, 'HEALTHY'],
    ],
    [0, 2, 1],
  ],
  [
    'a level emptied by verdicts closes up: failover becomes level 0',
    [
      [0, 'UNHEALTHY'],
      [1, 'HEALTHY'],
    ],
    [1, 0],
  ],
  [
    'gaps in the config’s numbers close up',
    [
      [2, 'HEALTHY'],
      [5, 'HEALTHY'],
      [5, 'UNHEALTHY'],
    ],
    [0, 1, 2],
  ],
  [
    'everything out: one level, Envoy’s panic decides',
    [
      [0, 'UNHEALTHY'],
      [1, 'DRAINING'],
    ],
    [0, 0],
  ],
];

for (const [name, backends, published] of TABLE) {
  test(name, () => {
    const localities = backends.map(([configuredPriority, health]) => ({ configuredPriority, health }));
    assert.deepEqual(
      withPublishedPriorities(localities).map((l) => l.priority),
      published,
    );
  });
}
