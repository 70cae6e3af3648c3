// The cost of a budget reservation when the ledger is in another process: reserve + settle through the workers'
// IPC store (src/workers/budget-store.ts: batched calls, zod-checked messages, Node's IPC channel) against the same
// MemoryStore called in-process. Wall time and CPU (both processes) per reserve+settle pair, at 1 and 32 in flight.
//
//   node dist/bench/worker-ipc.js [pairs]        (default 20000)
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { budgetsConfigSchema } from '../src/budget/config.js';
import { Budgets } from '../src/budget/budgets.js';
import type { ReserveRequest } from '../src/budget/store.js';
import { MemoryStore, type BudgetStore } from '../src/budget/store.js';
import { answerStoreCalls, batchedStoreCaller, IpcBudgetStore, PendingCalls } from '../src/workers/budget-store.js';
import { fromWorkerSchema, isOurs, toWorkerSchema } from '../src/workers/protocol.js';

const KEY = 'bench';
const AMOUNTS = { requests: 1, inputTokens: 500, outputTokens: 10, totalTokens: 510, costUsd: 1000 };
const ACTUAL = { requests: 1, inputTokens: 480, outputTokens: 12, totalTokens: 492, costUsd: 990 };

/** A key with a day quota and a minute rate, under a team and an organisation limit: four counters, like a real chain. */
function request(): ReserveRequest {
  const end = Date.now() + 86_400_000;
  const counters = (['organisation', 'team', 'key', 'key'] as const).map((level, i) => ({
    id: `c${i}`,
    subject: `s${i}`,
    level,
    window: 'day' as const,
    start: 0,
    end,
  }));
  return {
    id: randomUUID(),
    counters,
    checks: counters.map((_, i) => ({
      counter: i,
      limit: { kind: 'quota' as const, window: 'day' as const, metric: 'totalTokens' as const, amount: 1e15 },
    })),
    amounts: AMOUNTS,
    expiresAt: end,
  };
}

async function pairs(store: BudgetStore, total: number, inFlight: number): Promise<{ wallUs: number; cpuUs: number }> {
  let left = total;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left-- > 0) {
        const req = request();
        await store.reserve(req);
        await store.settle(req.id, ACTUAL);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { wallUs: ((performance.now() - started) * 1000) / total, cpuUs: (used.user + used.system) / total };
}

type Report = { mode: string; inFlight: number; wallUs: number; cpuUs: number };

async function child(total: number): Promise<void> {
  const calls = new PendingCalls();
  const caller = batchedStoreCaller(calls, (batch) => process.send?.({ llmx: 1, kind: 'store', calls: batch }));
  process.on('message', (raw: unknown) => {
    if (!isOurs(raw)) return;
    const message = toWorkerSchema.parse(raw);
    if (message.kind === 'store') for (const r of message.replies) calls.answer(r.id, r.ok, r.value, r.error);
  });
  const ipc = new IpcBudgetStore(caller, KEY);
  const memory = new MemoryStore();
  const reports: Report[] = [];
  for (const inFlight of [1, 32]) {
    await pairs(memory, total / 4, inFlight); // warm-up
    reports.push({ mode: 'in-process', inFlight, ...(await pairs(memory, total, inFlight)) });
    await pairs(ipc, total / 4, inFlight);
    reports.push({ mode: 'ipc', inFlight, ...(await pairs(ipc, total, inFlight)) });
  }
  process.send?.({ reports });
  process.disconnect();
}

async function primary(total: number): Promise<void> {
  const config = budgetsConfigSchema.parse({ organisations: [{ name: 'o' }] });
  const budgets = new Budgets(config, new MemoryStore());
  const worker = fork(fileURLToPath(import.meta.url), ['child', String(total)], { serialization: 'json' });
  let primaryCpuUs = 0;
  const reports = await new Promise<Report[]>((resolve, reject) => {
    worker.on('message', (raw: unknown) => {
      if (!isOurs(raw)) {
        resolve((raw as { reports: Report[] }).reports);
        return;
      }
      const message = fromWorkerSchema.parse(raw);
      if (message.kind !== 'store') return;
      const cpu = process.cpuUsage();
      void answerStoreCalls(message.calls, () => budgets).then((replies) => {
        worker.send({ llmx: 1, kind: 'store', replies });
        const used = process.cpuUsage(cpu);
        primaryCpuUs += used.user + used.system;
      });
    });
    worker.on('exit', (code) => reject(new Error(`child exited (${code})`)));
  });
  const ipcPairs = total * 1.25 * 2; // both in-flight settings, warm-up included
  console.log(`budget store: reserve + settle pairs (${total} per cell; 4 counters each), node ${process.version}`);
  console.log('| store | in flight | wall µs/pair | worker CPU µs/pair |');
  console.log('|---|---|---|---|');
  for (const r of reports)
    console.log(`| ${r.mode} | ${r.inFlight} | ${r.wallUs.toFixed(1)} | ${r.cpuUs.toFixed(1)} |`);
  console.log(
    `primary CPU answering the IPC calls: ~${(primaryCpuUs / ipcPairs).toFixed(1)} µs/pair (handler time only, reading the channel not included)`,
  );
}

const [role, count] = process.argv.slice(2);
const total = Number(role === 'child' ? count : (role ?? 20000));
if (!Number.isInteger(total) || total < 100) throw new Error('usage: node dist/bench/worker-ipc.js [pairs ≥ 100]');
await (role === 'child' ? child(total) : primary(total));
