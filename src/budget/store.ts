// Budget stores: where counters and open reservations live. Both apply the ledger's fit rule atomically; the plan
// (which counters, which checks) is computed by the caller with the pure ledger.
import { METRICS, type Metric } from './config.js';
import { fits, type Amounts, type Check, type CounterRef } from './ledger.js';

export interface ReserveRequest {
  /** Unique id (a UUID); the handle for settle/release. */
  readonly id: string;
  readonly counters: readonly CounterRef[];
  readonly checks: readonly Check[];
  readonly amounts: Amounts;
  /** Epoch ms after which the reaper releases the reservation. */
  readonly expiresAt: number;
}

export interface ReserveResult {
  readonly granted: boolean;
  /** Per check: used + reserved of its counter before this request (for the violation and the headers). */
  readonly current: readonly number[];
}

export interface CounterValues {
  readonly used: Amounts;
  readonly reserved: Amounts;
}

export interface BudgetStore {
  /** Checks every check and, only if all fit, reserves the amounts on every counter: one atomic step. */
  reserve(req: ReserveRequest): Promise<ReserveResult>;
  /** Moves the reservation's amounts out of `reserved` and adds `actual` to `used`. False (a no-op) if the reservation is gone (settled, released or reaped). */
  settle(reservationId: string, actual: Amounts): Promise<boolean>;
  /** Frees the reservation without usage. False if it is gone. */
  release(reservationId: string): Promise<boolean>;
  /** Releases every reservation whose expiresAt ≤ now; safe to run concurrently from many replicas. Returns how many. */
  reapExpired(now: number): Promise<number>;
  /** Current values of counters (zeros for counters never touched). Budgets.snapshot() builds the admin view on it. */
  read(counters: readonly CounterRef[]): Promise<CounterValues[]>;
  close(): Promise<void>;
}

/** Counters outlive their window by this much, so late settles of the window's reservations still land. */
export const COUNTER_GRACE_MS = 60_000;

type Mutable = Record<Metric, number>;

const zeros = (): Mutable => ({ requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 });

interface MemoryCounter {
  readonly used: Mutable;
  readonly reserved: Mutable;
  expireAt: number;
}

interface MemoryReservation {
  readonly counters: readonly string[];
  readonly amounts: Amounts;
  readonly expiresAt: number;
}

/** The embedded default: exact, one process. */
export class MemoryStore implements BudgetStore {
  private readonly counters = new Map<string, MemoryCounter>();
  private readonly reservations = new Map<string, MemoryReservation>();

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    const current = req.checks.map((check) => {
      const c = this.counters.get(req.counters[check.counter]!.id);
      return c ? c.used[check.limit.metric] + c.reserved[check.limit.metric] : 0;
    });
    // The same reservation sent twice (a retried call) is applied once, as in the Redis store.
    if (this.reservations.has(req.id)) return { granted: true, current };
    if (!fits(req.checks, current, req.amounts)) return { granted: false, current };
    for (const ref of req.counters) {
      let c = this.counters.get(ref.id);
      if (!c) {
        c = { used: zeros(), reserved: zeros(), expireAt: 0 };
        this.counters.set(ref.id, c);
      }
      c.expireAt = ref.end + COUNTER_GRACE_MS;
      for (const m of METRICS) c.reserved[m] += req.amounts[m];
    }
    this.reservations.set(req.id, {
      counters: req.counters.map((c) => c.id),
      amounts: req.amounts,
      expiresAt: req.expiresAt,
    });
    return { granted: true, current };
  }

  async settle(reservationId: string, actual: Amounts): Promise<boolean> {
    const r = this.reservations.get(reservationId);
    if (!r) return false;
    this.reservations.delete(reservationId);
    for (const id of r.counters) {
      const c = this.counters.get(id);
      if (!c) continue; // the window is over and its counter gone
      for (const m of METRICS) {
        c.reserved[m] -= r.amounts[m];
        c.used[m] += actual[m];
      }
    }
    return true;
  }

  release(reservationId: string): Promise<boolean> {
    return this.settle(reservationId, { requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 });
  }

  async reapExpired(now: number): Promise<number> {
    let reaped = 0;
    for (const [id, r] of this.reservations) {
      if (r.expiresAt <= now && (await this.release(id))) reaped++;
    }
    for (const [id, c] of this.counters) if (c.expireAt <= now) this.counters.delete(id);
    return reaped;
  }

  async read(counters: readonly CounterRef[]): Promise<CounterValues[]> {
    return counters.map((ref) => {
      const c = this.counters.get(ref.id);
      return { used: { ...(c?.used ?? zeros()) }, reserved: { ...(c?.reserved ?? zeros()) } };
    });
  }

  /** Open reservations (tests and diagnostics). */
  get openReservations(): number {
    return this.reservations.size;
  }

  async close(): Promise<void> {}
}
