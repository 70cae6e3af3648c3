// The concurrency proof: 4 processes share one budget through one Redis. 500 reservations of 1000 tokens against
// 100 000 tokens; actual usage 800–1200 each; some cancelled (released), some vanished (reaped after a 1 s TTL).
// Granted usage never exceeds the budget by more than the documented bound (Σ over settled requests of
// max(0, actual − reserved)), the counter equals exactly what was settled, and nothing stays reserved.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import { Budgets } from './budgets.js';
import { budgetsConfigSchema, type BudgetsConfigInput } from './config.js';
import { allSubjects, hashKey } from './identity.js';
import { planFor } from './ledger.js';
import { RedisStore } from './redis-store.js';
import { startRedis, type TestRedis } from './testing/redis.js';
import type { WorkerReport } from './testing/concurrency-worker.js';

const WORKERS = 4;
const REQUESTS = 125;
const BUDGET = 100_000;
const keys = Array.from({ length: WORKERS }, (_, i) => `sk-load-${i}-${randomUUID()}`);

let redis: TestRedis;
const children: ChildProcess[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await redis?.stop();
});

function run(worker: number, env: Record<string, string>): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./testing/concurrency-worker.js', import.meta.url))],
      {
        env: { ...process.env, ...env, WORKER: String(worker), VIRTUAL_KEY: keys[worker]! },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as WorkerReport)
        : reject(new Error(`worker ${worker} exited ${code}: ${err}`)),
    );
  });
}

it(
  '4 replicas, 500 concurrent reservations, one budget: bounded overshoot, no leaked reservation',
  { timeout: 60_000 },
  async (t) => {
    const input: BudgetsConfigInput = {
      store: { kind: 'redis', url: redis.url, keyPrefix: `proof-${randomUUID()}:`, commandTimeoutMs: 2000 },
      reservationTtlSeconds: 1,
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
      organisations: [
        {
          name: 'acme',
          limits: [{ window: 'day', totalTokens: BUDGET }],
          teams: [{ name: 'load', keys: keys.map((k, i) => ({ name: `replica-${i}`, sha256: hashKey(k) })) }],
        },
      ],
    };
    const env = {
      BUDGETS_CONFIG: JSON.stringify(input),
      REQUESTS: String(REQUESTS),
      SPREAD_MS: '6000',
      START_AT: String(Date.now() + 1500),
    };
    const reports = await Promise.all(Array.from({ length: WORKERS }, (_, i) => run(i, env)));
    const sum = (f: (r: WorkerReport) => number) => reports.reduce((a, r) => a + f(r), 0);

    const config = budgetsConfigSchema.parse(input);
    const budgets = new Budgets(
      config,
      new RedisStore({ ...(config.store as { url: string; keyPrefix: string; commandTimeoutMs: number }) }),
    );
    t.after(() => budgets.close());
    // Whatever vanished and was not yet reaped by a replica is reaped now that its TTL has passed.
    const lastExpiry = Math.max(...reports.map((r) => r.lastVanishExpiry));
    await new Promise((r) => setTimeout(r, Math.max(0, lastExpiry - Date.now() + 50)));
    const finalReap = await budgets.reapExpired();
    const [day] = (await budgets.snapshot()).filter((v) => v.subject === 'acme');
    const store = budgets.store as RedisStore;

    const summary = {
      granted: sum((r) => r.granted),
      denied: sum((r) => r.denied),
      settled: sum((r) => r.settled),
      released: sum((r) => r.released),
      vanished: sum((r) => r.vanished),
      lateSettles: sum((r) => r.lateSettles),
      reapedByReplicas: sum((r) => r.reaped),
      finalReap,
      used: day!.used,
      bound: BUDGET + sum((r) => r.excessTokens),
      overshoot: day!.used - BUDGET,
    };
    t.diagnostic(`concurrency proof: ${JSON.stringify(summary)}`);

    assert.equal(
      sum((r) => r.errors),
      0,
    );
    // A settle later than the 1 s TTL (only on a badly stalled machine) finds its reservation reaped: a no-op, counted.
    const late = sum((r) => r.lateSettles);
    assert.equal(summary.granted + summary.denied, WORKERS * REQUESTS);
    assert.ok(summary.denied > 0 && summary.granted >= BUDGET / 1000, JSON.stringify(summary));
    assert.equal(summary.settled + late + summary.released + summary.vanished, summary.granted);
    assert.ok(summary.released > 0 && summary.vanished > 0 && summary.reapedByReplicas > 0, JSON.stringify(summary));
    assert.equal(
      summary.reapedByReplicas + finalReap,
      summary.vanished + late,
      'every vanished reservation reaped exactly once',
    );
    // Exact accounting: the counter holds what was settled, nothing more, nothing reserved.
    assert.equal(
      day!.used,
      sum((r) => r.settledTokens),
    );
    assert.equal(day!.reserved, 0);
    assert.equal(await store.openReservations(), 0);
    const org = allSubjects(config)[0]!;
    const [values] = await store.read(planFor([org], Date.now(), config.timeZone).counters);
    assert.deepEqual(values!.reserved, { requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 });
    assert.equal(values!.used.requests, summary.settled);
    // The budget was saturated (so the bound was actually tested) …
    assert.ok(day!.used >= 0.9 * BUDGET, JSON.stringify(summary));
    // … and the bound holds: used ≤ limit + Σ max(0, actual − reserved).
    assert.ok(day!.used <= summary.bound, JSON.stringify(summary));
  },
);
