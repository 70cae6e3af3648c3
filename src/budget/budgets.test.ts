import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Budgets, type StoreOperation } from './budgets.js';
import { budgetsConfigSchema, type BudgetsConfigInput } from './config.js';
import { hashKey } from './identity.js';
import { startRedis, type TestRedis } from './testing/redis.js';

const KEY = 'sk-test-key-1';
const base: BudgetsConfigInput = {
  prices: { 'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 } },
  organisations: [
    {
      name: 'acme',
      limits: [{ window: 'month', costUsd: 0.01 }],
      teams: [{ name: 'search', rate: { rpm: 3, tpm: 10_000 }, keys: [{ name: 'prod', sha256: hashKey(KEY) }] }],
    },
  ],
};

function chainOf(budgets: Budgets) {
  const id = budgets.identify({ authorization: `Bearer ${KEY}` });
  assert.ok(id.ok);
  return id.chain;
}

describe('Budgets (memory)', () => {
  const now = Date.parse('2024-05-05T10:20:30Z');
  const budgets = Budgets.create(budgetsConfigSchema.parse(base), {}, { clock: () => now });
  after(() => budgets.close());

  it('reserve → settle, with OpenAI rate-limit headers', async () => {
    const r = await budgets.reserve(chainOf(budgets), {
      model: 'gpt-4o-mini',
      promptTokens: 1000,
      maxCompletionTokens: 1000,
    });
    assert.ok(r.ok);
    assert.equal(r.reservation.subject, 'acme/search/prod');
    assert.deepEqual(r.headers, {
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': '30s',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '8000',
      'x-ratelimit-reset-tokens': '30s',
    });
    assert.equal(
      await budgets.settle(r.reservation, { promptTokens: 1000, cachedPromptTokens: 1000, completionTokens: 10 }),
      true,
    );
    assert.equal(await budgets.settle(r.reservation, { promptTokens: 1000, completionTokens: 10 }), false);
  });

  it('429 rate_limit_exceeded with retry-after when the team rpm is spent', async () => {
    const chain = chainOf(budgets);
    const a = await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    const b = await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    assert.ok(a.ok && b.ok);
    const c = await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    assert.ok(!c.ok);
    assert.equal(c.response.status, 429);
    assert.equal(c.response.headers['retry-after'], '30');
    assert.equal(c.response.headers['x-ratelimit-remaining-requests'], '0');
    assert.equal(c.response.body.error.code, 'rate_limit_exceeded');
    assert.equal(c.response.body.error.type, 'requests');
    assert.ok(await budgets.release(b.reservation));
    assert.ok((await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 })).ok);
  });

  it('a chain without limits is not charged (nothing to settle)', async (t) => {
    const free = Budgets.create(
      budgetsConfigSchema.parse({
        organisations: [{ name: 'free', teams: [{ name: 't', keys: [{ name: 'k', sha256: hashKey('x') }] }] }],
      }),
    );
    t.after(() => free.close());
    const id = free.identify({ authorization: 'Bearer x' });
    assert.ok(id.ok);
    const r = await free.reserve(id.chain, { model: 'any', promptTokens: 1e9 });
    assert.ok(r.ok && r.reservation.id === undefined);
    assert.deepEqual(r.headers, {});
  });

  it('snapshot lists every limit with used, reserved and remaining', async () => {
    const views = await budgets.snapshot();
    assert.deepEqual(
      views.map(
        (v) => `${v.subject} ${v.kind} ${v.window} ${v.metric} ${v.limit} ${v.used} ${v.reserved} ${v.remaining}`,
      ),
      [
        // used: 1000 cached × 0.075 + 10 × 0.6 (USD per 1M); reserved: two open requests of 10 × 0.15 + 10 × 0.6.
        'acme quota month costUsd 0.01 0.000081 0.000015 0.009904',
        'acme/search rate minute requests 3 1 2 0',
        'acme/search rate minute totalTokens 10000 1010 40 8950',
      ],
    );
    assert.equal(views[0]!.windowStart, '2024-05-01T00:00:00.000Z');
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('Budgets (redis) store failures', () => {
  let redis: TestRedis | undefined;
  after(async () => redis?.stop());

  for (const policy of ['fail-closed', 'fail-open'] as const) {
    it(`unreachable Redis: ${policy}, errors reported, nothing thrown`, async (t) => {
      const errors: StoreOperation[] = [];
      let failOpen = 0;
      const config = budgetsConfigSchema.parse({
        ...base,
        onStoreFailure: policy,
        store: { kind: 'redis', url: `redis://127.0.0.1:${await closedPort()}`, commandTimeoutMs: 100 },
      });
      const budgets = Budgets.create(config, { onStoreError: (op) => errors.push(op), onFailOpen: () => failOpen++ });
      t.after(() => budgets.close());
      const started = Date.now();
      const r = await budgets.reserve(chainOf(budgets), { model: 'gpt-4o-mini', promptTokens: 10 });
      assert.ok(Date.now() - started < 2000);
      if (policy === 'fail-closed') {
        assert.ok(!r.ok);
        assert.equal(r.response.status, 503);
        assert.equal(r.response.body.error.code, 'budget_unavailable');
      } else {
        assert.ok(r.ok);
        assert.equal(r.reservation.id, undefined);
        assert.equal(failOpen, 1);
        assert.equal(await budgets.settle(r.reservation, { promptTokens: 10, completionTokens: 5 }), false);
      }
      assert.ok(errors.includes('reserve'));
      assert.equal(await budgets.reapExpired(), 0);
      assert.ok(errors.includes('reap'));
    });
  }

  it('recovers when Redis comes back (ioredis reconnects)', async (t) => {
    redis = await startRedis();
    const port = redis.port;
    const errors: StoreOperation[] = [];
    const config = budgetsConfigSchema.parse({
      ...base,
      store: { kind: 'redis', url: redis.url, commandTimeoutMs: 200 },
    });
    const budgets = Budgets.create(config, { onStoreError: (op) => errors.push(op) });
    t.after(() => budgets.close());
    const chain = chainOf(budgets);
    const first = await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    assert.ok(first.ok && first.reservation.id !== undefined);
    await redis.stop();
    const down = await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 });
    assert.ok(!down.ok && down.response.status === 503);
    assert.equal(await budgets.settle(first.reservation, { promptTokens: 10, completionTokens: 10 }), false);
    redis = await startRedis(port);
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && Date.now() < deadline) {
      up = (await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 10, maxCompletionTokens: 10 })).ok;
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(up, 'reserve succeeds again after Redis restarts');
    assert.ok(errors.includes('reserve') && errors.includes('settle'));
  });
});

/** A redis-server with an append-only file synced on every write, so a killed one restarts with its data. */
async function durableRedis(dir: string, port: number): Promise<{ kill(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    kill: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe('Budgets (redis) settle journal', () => {
  it('a settle that fails while Redis is killed is applied when it is back, and the reaper does not release it', async (t) => {
    await startRedis().then((r) => r.stop()); // installs redis-server when missing
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-journal-'));
    const port = await closedPort();
    let server = await durableRedis(dir, port);
    const errors: StoreOperation[] = [];
    // Real time: Redis expires keys by its own clock.
    const config = budgetsConfigSchema.parse({
      ...base,
      reservationTtlSeconds: 1,
      store: { kind: 'redis', url: `redis://127.0.0.1:${port}`, commandTimeoutMs: 200 },
    });
    const budgets = Budgets.create(config, { onStoreError: (op) => errors.push(op) }, { reapIntervalMs: 0 });
    t.after(async () => {
      await budgets.close();
      await server.kill();
    });
    const chain = chainOf(budgets);
    const r = await budgets.reserve(chain, { model: 'gpt-4o-mini', promptTokens: 100, maxCompletionTokens: 100 });
    assert.ok(r.ok && r.reservation.id !== undefined);
    await server.kill();
    assert.equal(await budgets.settle(r.reservation, { promptTokens: 100, completionTokens: 50 }), false);
    assert.ok(errors.includes('settle'));
    assert.equal(budgets.journalSize, 1, 'the failed settle is kept');
    assert.equal(await budgets.flushJournal(), 0, 'nothing applies while Redis is away');
    server = await durableRedis(dir, port);
    // Past the reservation's TTL: without the journal the reaper would now release it and lose the usage.
    await new Promise((res) => setTimeout(res, 1200));
    let reaped = 0;
    const deadline = Date.now() + 10_000;
    while (budgets.journalSize > 0 && Date.now() < deadline) {
      reaped += await budgets.reapExpired();
      if (budgets.journalSize > 0) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(budgets.journalSize, 0, 'the journal was applied');
    assert.equal(reaped, 0, 'nothing left to reap: the settle came first');
    // The month's cost counter (a minute's tpm counter could roll over during the test): 100 in + 50 out.
    const cost = async () => (await budgets.snapshot()).find((v) => v.subject === 'acme' && v.metric === 'costUsd');
    const expected = (100 * 0.15 + 50 * 0.6) / 1e6;
    assert.ok(Math.abs((await cost())!.used - expected) < 1e-12, `used ${(await cost())?.used}`);
    assert.equal((await cost())?.reserved, 0);
    // Idempotent: applying the same settle again changes nothing.
    assert.equal(await budgets.settle(r.reservation, { promptTokens: 100, completionTokens: 50 }), false);
    assert.ok(Math.abs((await cost())!.used - expected) < 1e-12);
  });
});
