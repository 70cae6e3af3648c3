// Budget store benchmark: reserve + settle through Budgets (plan, identity-free chain, store, headers) against
// MemoryStore and RedisStore (a local redis-server started by scripts/redis-server.mjs), side by side.
//
//   npx tsc -p tsconfig.json && node dist/bench/budget.js [--ops 20000] [--concurrency 64] [--json]
//
// Each request charges a realistic chain: organisation (month cost, day tokens), team (rpm, tpm) and key (rpm):
// 4 counters, 6 checks. Limits are large so nothing is refused. Two phases per store, after a warm-up:
//   sequential   one request at a time: the latency a request pays (reserve and settle each one round trip)
//   concurrent   `concurrency` requests in flight: throughput of one process; p99 includes queueing
// Latency is per reserve+settle pair (both awaited), in microseconds.
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Budgets } from '../src/budget/budgets.js';
import { budgetsConfigSchema, type BudgetsConfigInput } from '../src/budget/config.js';
import { hashKey } from '../src/budget/identity.js';
import { startRedis } from '../src/budget/testing/redis.js';
import { runIfEntryPoint } from './entry.js';

export interface BudgetBenchOptions {
  readonly ops: number;
  readonly concurrency: number;
}

export interface PhaseResult {
  readonly store: 'memory' | 'redis';
  readonly phase: 'sequential' | 'concurrent';
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

export interface BudgetBenchResult {
  readonly node: string;
  readonly cpu: string;
  readonly options: BudgetBenchOptions;
  readonly phases: readonly PhaseResult[];
}

const KEY = 'sk-bench';

function config(store: BudgetsConfigInput['store']): BudgetsConfigInput {
  return {
    store,
    prices: { 'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 } },
    organisations: [
      {
        name: 'acme',
        limits: [
          { window: 'month', costUsd: 1e6 },
          { window: 'day', totalTokens: 1e13 },
        ],
        teams: [
          {
            name: 'search',
            rate: { rpm: 1e9, tpm: 1e13 },
            keys: [{ name: 'bench', sha256: hashKey(KEY), rate: { rpm: 1e9 } }],
          },
        ],
      },
    ],
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function phase(
  budgets: Budgets,
  store: PhaseResult['store'],
  name: PhaseResult['phase'],
  ops: number,
  concurrency: number,
): Promise<PhaseResult> {
  const id = budgets.identify({ authorization: `Bearer ${KEY}` });
  if (!id.ok) throw new Error(id.response.body.error.message);
  const latencies: number[] = [];
  let next = 0;
  const one = async () => {
    const t0 = performance.now();
    const r = await budgets.reserve(id.chain, { model: 'gpt-4o-mini', promptTokens: 500, maxCompletionTokens: 500 });
    if (!r.ok) throw new Error(`refused: ${JSON.stringify(r.response.body)}`);
    if (!(await budgets.settle(r.reservation, { promptTokens: 500, completionTokens: 300 })))
      throw new Error('settle failed');
    latencies.push((performance.now() - t0) * 1000);
  };
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < ops) await one();
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    store,
    phase: name,
    ops,
    opsPerSecond: Math.round(ops / seconds),
    p50Us: Math.round(percentile(latencies, 50)),
    p99Us: Math.round(percentile(latencies, 99)),
  };
}

async function measure(
  budgets: Budgets,
  store: PhaseResult['store'],
  options: BudgetBenchOptions,
): Promise<PhaseResult[]> {
  await phase(budgets, store, 'concurrent', Math.min(2000, options.ops), options.concurrency); // warm-up (JIT, script cache)
  return [
    await phase(budgets, store, 'sequential', Math.max(1, Math.floor(options.ops / 4)), 1),
    await phase(budgets, store, 'concurrent', options.ops, options.concurrency),
  ];
}

export async function runBudgetBench(overrides: Partial<BudgetBenchOptions> = {}): Promise<BudgetBenchResult> {
  const options: BudgetBenchOptions = { ops: 20_000, concurrency: 64, ...overrides };
  const phases: PhaseResult[] = [];
  const memory = Budgets.create(budgetsConfigSchema.parse(config({ kind: 'memory' })));
  try {
    phases.push(...(await measure(memory, 'memory', options)));
  } finally {
    await memory.close();
  }
  const redis = await startRedis();
  const remote = Budgets.create(
    budgetsConfigSchema.parse(config({ kind: 'redis', url: redis.url, keyPrefix: 'bench:', commandTimeoutMs: 5000 })),
  );
  try {
    phases.push(...(await measure(remote, 'redis', options)));
  } finally {
    await remote.close();
    await redis.stop();
  }
  return {
    node: process.version,
    cpu: `${cpus()[0]?.model ?? 'unknown'} ×${cpus().length}, load ${loadavg()[0]!.toFixed(1)}`,
    options,
    phases,
  };
}

export function formatBudgetBench(result: BudgetBenchResult): string {
  const lines = [
    `budget bench: reserve+settle pairs, chain of 3 levels (4 counters, 6 checks); node ${result.node}; ${result.cpu}`,
    `store   phase        ops      pairs/s     p50 µs    p99 µs`,
  ];
  for (const p of result.phases) {
    lines.push(
      `${p.store.padEnd(7)} ${p.phase.padEnd(12)} ${String(p.ops).padStart(6)} ${String(p.opsPerSecond).padStart(11)} ${String(p.p50Us).padStart(10)} ${String(p.p99Us).padStart(9)}`,
    );
  }
  lines.push(
    `(concurrent = ${result.options.concurrency} in flight in one process; redis-server on 127.0.0.1, no persistence)`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ops: { type: 'string' }, concurrency: { type: 'string' }, json: { type: 'boolean' } },
  });
  const overrides: { -readonly [K in keyof BudgetBenchOptions]?: BudgetBenchOptions[K] } = {};
  if (values.ops !== undefined) overrides.ops = Number(values.ops);
  if (values.concurrency !== undefined) overrides.concurrency = Number(values.concurrency);
  const result = await runBudgetBench(overrides);
  process.stdout.write((values.json === true ? JSON.stringify(result, null, 2) : formatBudgetBench(result)) + '\n');
}

runIfEntryPoint(import.meta.url, 'bench/budget', main);
