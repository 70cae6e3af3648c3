// Pins shared through the Redis budget store: two replicas (two health monitors on one real Redis); a drain on one
// is published by the other after its next read; a restore likewise. Without Redis (memory store) pins stay local.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import { ConfigStore } from '../config/store.js';
import { Budgets } from '../budget/budgets.js';
import { startRedis, type TestRedis } from '../budget/testing/redis.js';
import type { Accounting } from '../extproc/budget-gate.js';
import { PromptEstimator } from '../tokens/estimator.js';
import { startHealth, type RunningHealth } from './index.js';
import type { PublishedState } from './monitor.js';
import { parsePins, serialisePin } from './shared-pins.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

function replica(storeYaml: string) {
  const text = `
backends:
  - { name: a, provider: openai-compatible, baseUrl: "http://127.0.0.1:1/v1" }
  - { name: b, provider: openai-compatible, baseUrl: "http://127.0.0.1:2/v1" }
routes:
  - { model: m, backends: [{ backend: a }, { backend: b }] }
budgets:
  store: ${storeYaml}
`;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-pins-')), 'config.yaml');
  writeFileSync(file, text);
  const parsed = parseConfig(text);
  if (!parsed.ok || !parsed.config.budgets) throw new Error('config');
  const store = new ConfigStore(file, parsed.config, {});
  const budgets = Budgets.create(parsed.config.budgets, {}, { reapIntervalMs: 0 });
  const accounting: Accounting = { budgets, config: parsed.config.budgets, estimator: new PromptEstimator() };
  const health: RunningHealth = startHealth(store, { accounting: () => accounting });
  const published: Array<[string, PublishedState]> = [];
  health.attach((backend, state) => published.push([backend, state]));
  return {
    health,
    published,
    close: async () => {
      await health.close();
      store.close();
      await budgets.close();
    },
  };
}

describe('shared pins', () => {
  test('parsePins keeps valid pins only; serialisePin round-trips', () => {
    const pin = { health: 'DRAINING' as const, weight: undefined, since: 5, reason: 'x' };
    assert.deepEqual(
      parsePins({ a: serialisePin(pin), b: 'nope', c: '{"health":"DOWN","since":1}' }),
      new Map([['a', pin]]),
    );
  });

  test('a drain on one replica reaches the other through Redis; so does the restore', async (t) => {
    const store = `{ kind: redis, url: "${redis.url}", keyPrefix: "pins-test-${process.pid}:" }`;
    const one = replica(store);
    const two = replica(store);
    t.after(async () => {
      await one.close();
      await two.close();
    });
    const answer = await one.health.operate('b', {
      kind: 'pin',
      state: 'DRAINING',
      weight: undefined,
      reason: 'maintenance',
    });
    assert.equal(answer?.shared, true);
    assert.deepEqual(one.published.at(-1), ['b', { weight: 1, health: 'DRAINING' }]);
    const sync = async () => {
      // The replica's own timer reads every 2 s; wait for it.
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && two.published.length === 0) await new Promise((r) => setTimeout(r, 50));
    };
    await sync();
    assert.deepEqual(two.published.at(-1), ['b', { weight: 1, health: 'DRAINING' }]);
    assert.equal(two.health.monitor.summary().get('b')?.pinned?.reason, 'maintenance');

    await one.health.operate('b', { kind: 'restore' });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && two.published.length < 2) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(two.published.at(-1), ['b', undefined]);
    assert.equal(two.health.monitor.summary().get('b')?.pinned, null);
  });

  test('with the memory store a pin is local (shared: false)', async (t) => {
    const one = replica('{ kind: memory }');
    t.after(() => one.close());
    const answer = await one.health.operate('a', {
      kind: 'pin',
      state: 'DRAINING',
      weight: undefined,
      reason: undefined,
    });
    assert.equal(answer?.shared, false);
    assert.equal(answer?.pinned?.state, 'DRAINING');
  });
});
