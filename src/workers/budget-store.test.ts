// The workers' budget store without processes: calls go through the message schemas and the primary's handler,
// as they do over the IPC channel, and keep the memory store's rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Budgets } from '../budget/budgets.js';
import { budgetsConfigSchema } from '../budget/config.js';
import { MemoryStore, type ReserveRequest } from '../budget/store.js';
import { answerStoreCalls, batchedStoreCaller, IpcBudgetStore, PendingCalls } from './budget-store.js';
import { fromWorkerSchema, toWorkerSchema } from './protocol.js';

const ZERO = { requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };
const ONE = { ...ZERO, requests: 1 };

function req(id: string, limit: number): ReserveRequest {
  const end = Date.now() + 60_000;
  return {
    id,
    counters: [{ id: 'k/minute', subject: 'acme/t/k', level: 'key', window: 'minute', start: end - 60_000, end }],
    checks: [{ counter: 0, limit: { kind: 'rate', window: 'minute', metric: 'requests', amount: limit } }],
    amounts: ONE,
    expiresAt: end,
  };
}

/** A worker's store wired to a primary ledger through JSON and the schemas, as over the channel. */
function wired(ledgers: Map<string, Budgets>) {
  const calls = new PendingCalls();
  let messages = 0;
  const caller = batchedStoreCaller(calls, (batch) => {
    messages++;
    const wire = fromWorkerSchema.parse(JSON.parse(JSON.stringify({ llmx: 1, kind: 'store', calls: batch })));
    if (wire.kind !== 'store') return;
    void answerStoreCalls(wire.calls, (key) => ledgers.get(key)).then((replies) => {
      const back = toWorkerSchema.parse(JSON.parse(JSON.stringify({ llmx: 1, kind: 'store', replies })));
      if (back.kind === 'store') for (const r of back.replies) calls.answer(r.id, r.ok, r.value, r.error);
    });
  });
  return { caller, messages: () => messages };
}

test('reserve, settle and read reach the primary ledger; the fit rule is the memory store’s', async () => {
  const ledger = new MemoryStore();
  const { caller } = wired(new Map([['key-a', new Budgets(budgetsConfigSchema.parse({}), ledger)]]));
  const store = new IpcBudgetStore(caller, 'key-a');
  assert.deepEqual(await store.reserve(req('r1', 1)), { granted: true, current: [0] });
  assert.deepEqual(await store.reserve(req('r2', 1)), { granted: false, current: [1] });
  assert.equal(await store.settle('r1', ONE), true);
  assert.equal(await store.settle('r1', ONE), false, 'a second settle is a no-op');
  const [values] = await store.read(req('x', 1).counters);
  assert.deepEqual(values, { used: ONE, reserved: ZERO });
  assert.equal(ledger.openReservations, 0);
});

test('calls made in one turn of the event loop leave as one message, answered in order', async () => {
  const ledger = new MemoryStore();
  const { caller, messages } = wired(new Map([['k', new Budgets(budgetsConfigSchema.parse({}), ledger)]]));
  const store = new IpcBudgetStore(caller, 'k');
  const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.reserve(req(`r${i}`, 3))));
  assert.equal(messages(), 1);
  assert.deepEqual(
    results.map((r) => r.granted),
    [true, true, true, false, false],
  );
});

test('a config the primary no longer has is a store error (the budgets fail policy decides), not a grant', async () => {
  const { caller } = wired(new Map());
  await assert.rejects(new IpcBudgetStore(caller, 'gone').reserve(req('r', 1)), /no budgets ledger/);
});
