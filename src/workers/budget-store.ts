// Budgets across ext_proc workers with the memory store: the primary holds the one ledger (its MemoryStore, with
// the reaper) and every worker reserves and settles on it over the cluster IPC channel. The primary applies each
// call in arrival order on one thread, so the memory store's atomic check-and-reserve stays atomic across
// workers: concurrent reservations against one limit never overshoot it. The Redis store is shared already and
// is used directly by each worker.
import type { BudgetStore, CounterValues, ReserveRequest, ReserveResult } from '../budget/store.js';
import type { Amounts } from '../budget/ledger.js';
import type { CounterRef } from '../budget/ledger.js';
import type { Budgets } from '../budget/budgets.js';
import { Outbox, type StoreCall } from './protocol.js';

/** How long a worker waits for the primary's answer; past it the call fails like a store timeout (fail policy). */
const CALL_TIMEOUT_MS = 5000;

export type StoreCaller = (key: string, call: StoreCall) => Promise<unknown>;

/** Worker side: the BudgetStore whose ledger is the primary's. Reaping is the primary's (its Budgets' reaper). */
export class IpcBudgetStore implements BudgetStore {
  constructor(
    private readonly call: StoreCaller,
    /** budgetsKey() of the config: the primary keeps a ledger per budgets config, as a single process does. */
    private readonly key: string,
  ) {}

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    return (await this.call(this.key, {
      op: 'reserve',
      req: { ...req, counters: [...req.counters], checks: [...req.checks] },
    })) as ReserveResult;
  }

  async settle(reservationId: string, actual: Amounts): Promise<boolean> {
    return (await this.call(this.key, { op: 'settle', id: reservationId, actual })) === true;
  }

  async release(reservationId: string): Promise<boolean> {
    return (await this.call(this.key, { op: 'release', id: reservationId })) === true;
  }

  async reapExpired(): Promise<number> {
    return 0;
  }

  async read(counters: readonly CounterRef[]): Promise<CounterValues[]> {
    return (await this.call(this.key, { op: 'read', counters: [...counters] })) as CounterValues[];
  }

  async close(): Promise<void> {}
}

/** Primary side: applies one worker call to the ledger of `budgets` (undefined: that config is gone, an error). */
function applyStoreCall(budgets: Budgets | undefined, call: StoreCall): Promise<unknown> {
  if (!budgets) return Promise.reject(new Error('no budgets ledger for this config in the primary'));
  const store = budgets.store;
  switch (call.op) {
    case 'reserve':
      return store.reserve(call.req);
    case 'settle':
      return store.settle(call.id, call.actual);
    case 'release':
      return store.release(call.id);
    case 'read':
      return store.read(call.counters);
  }
}

/** Pending calls of one worker, answered by id; each fails after CALL_TIMEOUT_MS (a primary that went away). */
export class PendingCalls {
  #next = 0;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();

  open(send: (id: number) => void): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('the cluster primary did not answer a budget store call in time'));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      send(id);
    });
  }

  answer(id: number, ok: boolean, value: unknown, error: string | undefined): void {
    const pending = this.#pending.get(id);
    if (!pending) return; // timed out already
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (ok) pending.resolve(value);
    else pending.reject(new Error(error ?? 'budget store call failed in the primary'));
  }
}

interface StoreCallMessage {
  readonly id: number;
  readonly key: string;
  readonly call: StoreCall;
}

interface StoreReply {
  readonly id: number;
  readonly ok: boolean;
  readonly value: unknown;
  readonly error?: string;
}

/** Worker side: a StoreCaller whose calls leave in one message per event-loop turn (`post` sends it). */
export function batchedStoreCaller(calls: PendingCalls, post: (batch: StoreCallMessage[]) => void): StoreCaller {
  const outbox = new Outbox<StoreCallMessage>(post);
  return (key, call) => calls.open((id) => outbox.push({ id, key, call }));
}

/**
 * Primary side: applies one message's calls in order and returns their replies. Each call's check-and-reserve runs
 * synchronously as it is applied (MemoryStore), so calls from different workers never interleave inside one.
 */
export function answerStoreCalls(
  batch: readonly StoreCallMessage[],
  budgetsFor: (key: string) => Budgets | undefined,
): Promise<StoreReply[]> {
  return Promise.all(
    batch.map(({ id, key, call }) =>
      applyStoreCall(budgetsFor(key), call).then(
        (value) => ({ id, ok: true, value }),
        (err: unknown) => ({ id, ok: false, value: null, error: err instanceof Error ? err.message : String(err) }),
      ),
    ),
  );
}
