// One "replica" of the concurrency proof (src/budget/concurrency.test.ts): a RedisStore-backed Budgets that
// identifies, reserves, then settles, releases ("cancelled") or forgets ("vanished": left for the reaper) its
// requests, like the router stage would. Prints one JSON line with what it did.
import { Budgets } from '../budgets.js';
import { budgetsConfigSchema } from '../config.js';
import { mulberry32 } from '../../testing/random.js';

export interface WorkerReport {
  readonly worker: number;
  readonly granted: number;
  readonly denied: number;
  readonly errors: number;
  readonly settled: number;
  readonly lateSettles: number;
  readonly released: number;
  readonly vanished: number;
  readonly reaped: number;
  /** Σ actual total tokens of applied settles. */
  readonly settledTokens: number;
  /** Σ max(0, actual − reserved) total tokens of applied settles: this replica's share of the overshoot bound. */
  readonly excessTokens: number;
  /** Latest expiry of a vanished reservation (epoch ms). */
  readonly lastVanishExpiry: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const worker = Number(process.env.WORKER);
  const requests = Number(process.env.REQUESTS);
  const spreadMs = Number(process.env.SPREAD_MS);
  const startAt = Number(process.env.START_AT);
  const key = process.env.VIRTUAL_KEY!;
  const config = budgetsConfigSchema.parse(JSON.parse(process.env.BUDGETS_CONFIG!));
  const random = mulberry32(worker + 1);
  let errors = 0;
  const budgets = Budgets.create(config, { onStoreError: () => errors++ }, { reapIntervalMs: 0 }); // it reaps below, counting
  const identity = budgets.identify({ authorization: `Bearer ${key}` });
  if (!identity.ok) throw new Error(identity.response.body.error.message);
  const r = {
    granted: 0,
    denied: 0,
    settled: 0,
    lateSettles: 0,
    released: 0,
    vanished: 0,
    reaped: 0,
    settledTokens: 0,
    excessTokens: 0,
    lastVanishExpiry: 0,
  };

  let running = true;
  const reaper = (async () => {
    while (running) {
      r.reaped += await budgets.reapExpired();
      await sleep(100);
    }
  })();

  await sleep(Math.max(0, startAt - Date.now()));
  await Promise.all(
    Array.from({ length: requests }, async () => {
      const delay = random() * spreadMs;
      const outcome = random();
      const promptTokens = 200 + Math.floor(random() * 201); // actual prompt: the estimate (200) may be up to 200 short
      const completionTokens = 600 + Math.floor(random() * 201); // ≤ max_tokens (800): a provider never exceeds it
      const latency = random() * 30;
      await sleep(delay);
      const res = await budgets.reserve(identity.chain, {
        model: 'gpt-4o-mini',
        promptTokens: 200,
        maxCompletionTokens: 800,
      });
      if (!res.ok) {
        r.denied++;
        return;
      }
      r.granted++;
      await sleep(latency);
      if (outcome < 0.7) {
        if (await budgets.settle(res.reservation, { promptTokens, completionTokens })) {
          r.settled++;
          const actual = promptTokens + completionTokens;
          r.settledTokens += actual;
          r.excessTokens += Math.max(0, actual - res.reservation.amounts.totalTokens);
        } else r.lateSettles++;
      } else if (outcome < 0.85) {
        if (await budgets.release(res.reservation)) r.released++;
      } else {
        r.vanished++;
        r.lastVanishExpiry = Math.max(r.lastVanishExpiry, Date.now() + config.reservationTtlSeconds * 1000);
      }
    }),
  );
  running = false;
  await reaper;
  await budgets.close();
  const report: WorkerReport = { worker, errors, ...r };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
