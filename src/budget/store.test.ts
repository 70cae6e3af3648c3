// One specification, run against MemoryStore and RedisStore (a real redis-server, see scripts/redis-server.mjs).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { limitsOf, planFor, ZERO, type Amounts, type BudgetSubject } from './ledger.js';
import { RedisStore } from './redis-store.js';
import { MemoryStore, type BudgetStore, type ReserveRequest } from './store.js';
import { startRedis, type TestRedis } from './testing/redis.js';

const chain: BudgetSubject[] = [
  {
    level: 'organisation',
    id: 'org',
    limits: limitsOf([{ window: 'day', totalTokens: 10_000, costUsd: 1 }], undefined),
  },
  { level: 'team', id: 'org/team', limits: limitsOf([], { rpm: 10 }) },
];
// Tomorrow, 30 s into a minute: Redis expires keys by its own clock, so the test's windows must not be over.
const NOW = Math.floor((Date.now() + 86_400_000) / 60_000) * 60_000 + 30_000;
const plan = planFor(chain, NOW, 'UTC');
const amounts = (tokens: number, costUsd = 0): Amounts => ({
  requests: 1,
  inputTokens: tokens,
  outputTokens: 0,
  totalTokens: tokens,
  costUsd,
});
const request = (tokens: number, expiresAt = NOW + 10_000): ReserveRequest => ({
  id: randomUUID(),
  ...plan,
  amounts: amounts(tokens),
  expiresAt,
});

function specification(makeStore: () => BudgetStore) {
  let store: BudgetStore;
  const values = async () =>
    (await store.read(plan.counters)).map(
      (v) => `${v.used.totalTokens}/${v.reserved.totalTokens}/${v.used.requests}/${v.reserved.requests}`,
    );

  before(() => {
    store = makeStore();
  });
  after(() => store.close());

  it('reserves on every counter when all checks fit', async () => {
    const r = await store.reserve(request(4000));
    assert.deepEqual(r, { granted: true, current: [0, 0, 0] });
    assert.deepEqual(await values(), ['0/4000/0/1', '0/4000/0/1']);
  });

  it('refuses without changing anything when one check does not fit', async () => {
    const r = await store.reserve(request(6001));
    assert.deepEqual(r, { granted: false, current: [4000, 0, 1] });
    assert.deepEqual(await values(), ['0/4000/0/1', '0/4000/0/1']);
  });

  it('applies a reservation sent twice (a reply lost on a dropped connection, then resent) once', async () => {
    const req = request(100);
    assert.ok((await store.reserve(req)).granted);
    const once = await values();
    assert.ok((await store.reserve(req)).granted);
    assert.deepEqual(await values(), once);
    assert.equal(await store.release(req.id), true);
    assert.deepEqual(await values(), ['0/4000/0/1', '0/4000/0/1']);
  });

  it('settles reserved → used exactly once', async () => {
    const req = request(2000);
    assert.ok((await store.reserve(req)).granted);
    assert.deepEqual(await values(), ['0/6000/0/2', '0/6000/0/2']);
    assert.equal(await store.settle(req.id, amounts(2500, 123)), true);
    assert.deepEqual(await values(), ['2500/4000/1/1', '2500/4000/1/1']);
    assert.equal(await store.settle(req.id, amounts(2500)), false);
    assert.equal(await store.release(req.id), false);
    assert.deepEqual(await values(), ['2500/4000/1/1', '2500/4000/1/1']);
    assert.equal((await store.read(plan.counters))[0]!.used.costUsd, 123);
  });

  it('releases without usage', async () => {
    const req = request(1000);
    assert.ok((await store.reserve(req)).granted);
    assert.equal(await store.release(req.id), true);
    assert.equal(await store.release(req.id), false);
    assert.deepEqual(await values(), ['2500/4000/1/1', '2500/4000/1/1']);
  });

  it('reaps expired reservations only; settling after the reap is a no-op', async () => {
    const expiring = request(1000, NOW + 1000);
    const fresh = request(1000, NOW + 20_000);
    assert.ok((await store.reserve(expiring)).granted);
    assert.ok((await store.reserve(fresh)).granted);
    assert.equal(await store.reapExpired(NOW + 5000), 1); // the first open one (4000, NOW+10s) stays too
    assert.equal(await store.settle(expiring.id, amounts(1000)), false);
    assert.deepEqual(await values(), ['2500/5000/1/2', '2500/5000/1/2']);
    assert.equal(await store.settle(fresh.id, ZERO), true);
    assert.deepEqual(await values(), ['2500/4000/1/1', '2500/4000/1/1']);
    assert.equal(await store.reapExpired(NOW + 30_000), 1);
    assert.deepEqual(await values(), ['2500/0/1/0', '2500/0/1/0']);
  });

  it('concurrent reservations never exceed a limit', async () => {
    // 9 requests left in this minute (rpm 10, 1 used); 7500 tokens left in the day.
    const results = await Promise.all(Array.from({ length: 40 }, () => store.reserve(request(100))));
    assert.equal(results.filter((r) => r.granted).length, 9);
    const tokens = await Promise.all(
      Array.from({ length: 40 }, () => store.reserve({ ...request(1000), checks: plan.checks.slice(0, 2) })),
    );
    assert.equal(tokens.filter((r) => r.granted).length, 6); // 10 000 − 2500 − 900 = 6600 → six of 1000
    assert.equal(await store.reapExpired(NOW + 30_000), 15);
    assert.deepEqual(await values(), ['2500/0/1/0', '2500/0/1/0']);
  });

  it('reads zeros for counters never touched', async () => {
    const other = planFor([{ level: 'organisation', id: 'untouched', limits: chain[0]!.limits }], NOW, 'UTC');
    const [v] = await store.read(other.counters);
    assert.deepEqual(v, { used: ZERO, reserved: ZERO });
  });
}

describe('MemoryStore', () => specification(() => new MemoryStore()));

describe('RedisStore', () => {
  let redis: TestRedis;
  let store: RedisStore;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  describe('specification', () =>
    specification(
      () => (store = new RedisStore({ url: redis.url, keyPrefix: `t${randomUUID()}:`, commandTimeoutMs: 1000 })),
    ));

  it('counter keys expire with their window; reservation records are deleted', async (t) => {
    const s = new RedisStore({ url: redis.url, keyPrefix: 'ttl:', commandTimeoutMs: 1000 });
    t.after(() => s.close());
    const now = Date.now();
    const p = planFor(chain, now, 'UTC');
    const req: ReserveRequest = { id: randomUUID(), ...p, amounts: amounts(10), expiresAt: now + 60_000 };
    assert.ok((await s.reserve(req)).granted);
    const minute = p.counters.find((c) => c.window === 'minute')!;
    const ttl = await s.redis.pttl(`ttl:c:${minute.id}`);
    assert.ok(ttl > 0 && ttl <= minute.end + 60_000 - now + 50, `pttl ${ttl}`);
    assert.equal(await s.openReservations(), 1);
    assert.ok(await s.settle(req.id, amounts(10)));
    assert.equal(await s.redis.exists(`ttl:r:${req.id}`), 0);
    assert.equal(await s.openReservations(), 0);
  });

  it('large cost amounts stay exact', async (t) => {
    const s = new RedisStore({ url: redis.url, keyPrefix: 'big:', commandTimeoutMs: 1000 });
    t.after(() => s.close());
    const big = {
      level: 'organisation',
      id: 'big',
      limits: limitsOf([{ window: 'month', costUsd: 5_000_000 }], undefined),
    } as const;
    const p = planFor([big], NOW, 'UTC');
    const cost = 4_999_999_999_999_999; // nano-USD, above 2^52
    const req: ReserveRequest = {
      id: randomUUID(),
      ...p,
      amounts: { ...ZERO, costUsd: cost },
      expiresAt: NOW + 10_000,
    };
    assert.ok((await s.reserve(req)).granted);
    assert.ok(await s.settle(req.id, { ...ZERO, costUsd: 123_456_789_012_345 }));
    const [v] = await s.read(p.counters);
    assert.equal(v!.used.costUsd, 123_456_789_012_345);
    assert.equal(v!.reserved.costUsd, 0);
  });
});
