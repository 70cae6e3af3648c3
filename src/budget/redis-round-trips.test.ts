// With the Redis store, a request's budget work costs one round trip to reserve and one to settle (or release): each
// is a single Lua script call, so replicas stay consistent without extra latency. Counted with MONITOR on a real
// redis-server: every top-level command the store's connection sends (commands run inside a script are not
// round trips and are left out).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Budgets } from './budgets.js';
import { budgetsConfigSchema } from './config.js';
import { hashKey } from './identity.js';
import { startRedis, type TestRedis } from './testing/redis.js';

const KEY = 'sk-round-trips';

describe('Budgets with the Redis store: round trips per request', () => {
  let redis: TestRedis;
  let budgets: Budgets;
  let monitor: Redis;
  const commands: string[] = [];

  before(async () => {
    redis = await startRedis();
    const config = budgetsConfigSchema.parse({
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
      store: { kind: 'redis', url: redis.url, keyPrefix: 'rt:' },
      organisations: [
        {
          name: 'acme',
          limits: [{ window: 'month', costUsd: 100 }],
          teams: [
            {
              name: 'search',
              rate: { rpm: 1000, tpm: 1_000_000 },
              keys: [{ name: 'prod', sha256: hashKey(KEY), limits: [{ window: 'day', totalTokens: 1_000_000 }] }],
            },
          ],
        },
      ],
    });
    budgets = Budgets.create(config, {}, { reapIntervalMs: 0 });
    monitor = new Redis(redis.url);
    const m = await monitor.monitor();
    m.on('monitor', (_time: string, args: string[], source: string) => {
      if (!source.startsWith('lua')) commands.push(String(args[0]).toLowerCase());
    });
  });
  after(async () => {
    await budgets?.close();
    monitor?.disconnect();
    await redis?.stop();
  });

  /** Top-level commands sent while `work` runs (MONITOR lines arrive asynchronously: waits until they stop). */
  async function commandsDuring(work: () => Promise<unknown>): Promise<string[]> {
    await settleMonitor();
    commands.length = 0;
    await work();
    await settleMonitor();
    return [...commands];
  }

  async function settleMonitor(): Promise<void> {
    let seen = -1;
    while (seen !== commands.length) {
      seen = commands.length;
      await sleep(50);
    }
  }

  function chain() {
    const id = budgets.identify({ authorization: `Bearer ${KEY}` });
    assert.ok(id.ok);
    return id.chain;
  }

  // The first script call after Redis starts may cost EVALSHA → NOSCRIPT → EVAL; every later one is one EVALSHA.
  it('warm-up: scripts loaded', async () => {
    const r = await budgets.reserve(chain(), { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    assert.ok(r.ok);
    assert.equal(await budgets.settle(r.reservation, { promptTokens: 10, completionTokens: 5 }), true);
  });

  it('reserve across three levels (organisation, team, key) with four limits: one round trip', async () => {
    let outcome: Awaited<ReturnType<Budgets['reserve']>> | undefined;
    const reserved = await commandsDuring(async () => {
      outcome = await budgets.reserve(chain(), { model: 'gpt-4o-mini', promptTokens: 1200, maxCompletionTokens: 300 });
    });
    assert.ok(outcome?.ok);
    assert.deepEqual(reserved, ['evalsha']);

    const { reservation } = outcome;
    const settled = await commandsDuring(() =>
      budgets.settle(reservation, { promptTokens: 1200, completionTokens: 42 }),
    );
    assert.deepEqual(settled, ['evalsha'], 'settle: one round trip');
  });

  it('release of an unused reservation: one round trip', async () => {
    const r = await budgets.reserve(chain(), { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    assert.ok(r.ok);
    const sent = await commandsDuring(() => budgets.release(r.reservation));
    assert.deepEqual(sent, ['evalsha']);
  });
});
