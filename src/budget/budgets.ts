// The budget stage's API for the router (docs/budgets.md): identify → reserve → settle | release, plus the reaper,
// the admin snapshot and the store-failure policy.
import { randomUUID } from 'node:crypto';
import type { BudgetsConfig, Metric } from './config.js';
import { allSubjects, resolveIdentity, type IdentityInput, type IdentityResult } from './identity.js';
import {
  actualAmounts,
  firstViolation,
  NANO_PER_USD,
  planFor,
  rateLimitHeaders,
  rejection,
  reservationAmounts,
  windowBounds,
  type Amounts,
  type BudgetSubject,
  type CounterRef,
  type Limit,
  type ReservationInput,
  type TokenCounts,
} from './ledger.js';
import { RedisStore } from './redis-store.js';
import { MemoryStore, type BudgetStore } from './store.js';
import { errorReply, type ErrorReply } from '../unified/errors.js';

export type StoreOperation = 'reserve' | 'settle' | 'release' | 'reap' | 'read' | 'connection' | 'journal';

/**
 * Settles (and releases) that failed while the store was away wait here, oldest first, and are applied when it is
 * back: before every reaper run (so the reaper does not release what is owed a settle), after a reserve succeeds,
 * and on close. Both operations are idempotent in the store, so applying one twice is harmless. Bounded: when full,
 * the oldest entry is dropped (reported as a `journal` store error) and its reservation is left to the reaper.
 */
export const SETTLE_JOURNAL_LIMIT = 10_000;

type JournalEntry = { readonly kind: 'settle'; readonly actual: Amounts } | { readonly kind: 'release' };

export interface BudgetHooks {
  /** Every store failure (timeouts, connection loss). Export as a counter labelled by operation. */
  readonly onStoreError?: (operation: StoreOperation, error: Error) => void;
  /** Duration of every store call. Export as a histogram. */
  readonly onStoreLatency?: (operation: StoreOperation, seconds: number) => void;
  /** A request went through without a reservation because the store failed and the policy is fail-open. */
  readonly onFailOpen?: () => void;
}

/** Held by the request from reserve to settle/release. Carries no secret. */
export interface Reservation {
  /** Undefined when the store failed and the policy let the request through unreserved (nothing to settle). */
  readonly id: string | undefined;
  readonly model: string;
  readonly subject: string;
  readonly amounts: Amounts;
}

export type ReserveOutcome =
  | { readonly ok: true; readonly reservation: Reservation; readonly headers: Record<string, string> }
  | { readonly ok: false; readonly response: ErrorReply };

export interface BudgetsOptions {
  /** Epoch ms; tests pass a fixed clock. */
  readonly clock?: () => number;
  readonly reapIntervalMs?: number;
}

export interface BudgetView {
  readonly subject: string;
  readonly level: BudgetSubject['level'];
  readonly kind: Limit['kind'];
  readonly window: CounterRef['window'];
  readonly metric: Metric;
  readonly windowStart: string;
  readonly windowEnd: string;
  /** Display units (USD for costUsd). */
  readonly limit: number;
  readonly used: number;
  readonly reserved: number;
  readonly remaining: number;
}

const STORE_UNAVAILABLE = errorReply(
  503,
  'server_error',
  'budget_unavailable',
  'The budget store is unavailable; request refused (fail-closed).',
  {
    'retry-after': '1',
  },
);

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class Budgets {
  private reaper: NodeJS.Timeout | undefined;
  /** Reservation id → what is owed to it (Map: insertion order is the order of failure). */
  readonly #journal = new Map<string, JournalEntry>();
  #flushing: Promise<number> | undefined;

  constructor(
    readonly config: BudgetsConfig,
    readonly store: BudgetStore,
    private readonly hooks: BudgetHooks = {},
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The store named by the config, with the reaper running every `reapIntervalMs` (default 5 s; 0: do not start it,
   * call reapExpired() yourself). The reaper also drops a MemoryStore's finished windows.
   */
  static create(config: BudgetsConfig, hooks: BudgetHooks = {}, options: BudgetsOptions = {}): Budgets {
    const store =
      config.store.kind === 'memory'
        ? new MemoryStore()
        : new RedisStore({ ...config.store, onConnectionError: (err) => hooks.onStoreError?.('connection', err) });
    const budgets = new Budgets(config, store, hooks, options.clock);
    const interval = options.reapIntervalMs ?? 5000;
    if (interval > 0) budgets.startReaper(interval);
    return budgets;
  }

  identify(input: IdentityInput): IdentityResult {
    return resolveIdentity(input, this.config);
  }

  /** Checks and reserves prompt + expected completion on every limit of every level, atomically. */
  async reserve(chain: readonly BudgetSubject[], input: ReservationInput): Promise<ReserveOutcome> {
    const now = this.clock();
    const amounts = reservationAmounts(input, this.config.prices, this.config.defaultCompletionTokens);
    const plan = planFor(chain, now, this.config.timeZone);
    const subject = chain[chain.length - 1]?.id ?? '';
    if (plan.checks.length === 0)
      return { ok: true, reservation: { id: undefined, model: input.model, subject, amounts }, headers: {} };
    const id = randomUUID();
    let result;
    try {
      result = await this.timed('reserve', () =>
        this.store.reserve({ id, ...plan, amounts, expiresAt: now + this.config.reservationTtlSeconds * 1000 }),
      );
    } catch {
      // The store may have applied the reservation before the failure reached us (a timed-out reply): undo it
      // best-effort so it does not sit reserved until the reaper. Release is idempotent and never throws.
      void this.store.release(id).catch(() => undefined);
      if (this.config.onStoreFailure === 'fail-closed') return { ok: false, response: STORE_UNAVAILABLE };
      this.hooks.onFailOpen?.();
      return { ok: true, reservation: { id: undefined, model: input.model, subject, amounts }, headers: {} };
    }
    // The store answers again: apply what failed while it was away.
    if (this.#journal.size > 0) void this.flushJournal();
    if (!result.granted) {
      const headers = rateLimitHeaders(plan, result.current, amounts, now, false);
      // The store applies the same rule to the same numbers, so a violation is always found; the fallback only
      // guards against a store that disagrees (it then names the first limit as full).
      const violation =
        firstViolation(plan, result.current, amounts) ??
        firstViolation(
          plan,
          plan.checks.map((c) => c.limit.amount),
          { requests: 1, inputTokens: 1, outputTokens: 1, totalTokens: 1, costUsd: 1 },
        )!;
      return { ok: false, response: rejection(violation, headers, now) };
    }
    return {
      ok: true,
      reservation: { id, model: input.model, subject, amounts },
      headers: rateLimitHeaders(plan, result.current, amounts, now, true),
    };
  }

  /** Charges actual usage (provider's usage; prompt includes cached). False if there was nothing to settle. Never throws. */
  async settle(reservation: Reservation, usage: TokenCounts): Promise<boolean> {
    if (reservation.id === undefined) return false;
    const id = reservation.id;
    const actual = actualAmounts(reservation.model, usage, this.config.prices);
    try {
      return await this.timed('settle', () => this.store.settle(id, actual));
    } catch {
      this.#remember(id, { kind: 'settle', actual });
      return false;
    }
  }

  /** Settles and releases waiting for the store (the settle journal). */
  get journalSize(): number {
    return this.#journal.size;
  }

  /**
   * Applies the journal in order until the store fails again; returns how many entries were applied. Never throws;
   * concurrent calls share one run.
   */
  flushJournal(): Promise<number> {
    if (this.#journal.size === 0) return Promise.resolve(0);
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flush(): Promise<number> {
    let applied = 0;
    for (const [id, entry] of [...this.#journal]) {
      try {
        if (entry.kind === 'settle') await this.timed('settle', () => this.store.settle(id, entry.actual));
        else await this.timed('release', () => this.store.release(id));
      } catch {
        return applied;
      }
      // A newer entry for the same id (a settle after a journaled release cannot happen; be safe) stays.
      if (this.#journal.get(id) === entry) this.#journal.delete(id);
      applied++;
    }
    return applied;
  }

  #remember(id: string, entry: JournalEntry): void {
    this.#journal.delete(id);
    if (this.#journal.size >= SETTLE_JOURNAL_LIMIT) {
      const oldest = this.#journal.keys().next().value;
      if (oldest !== undefined) this.#journal.delete(oldest);
      this.hooks.onStoreError?.(
        'journal',
        new Error(`settle journal full (${SETTLE_JOURNAL_LIMIT}); the oldest entry is left to the reaper`),
      );
    }
    this.#journal.set(id, entry);
  }

  /** Frees the reservation: the request failed before the provider charged for it. Never throws. */
  async release(reservation: Reservation): Promise<boolean> {
    const id = reservation.id;
    if (id === undefined) return false;
    try {
      return await this.timed('release', () => this.store.release(id));
    } catch {
      this.#remember(id, { kind: 'release' });
      return false;
    }
  }

  /** Releases reservations past their TTL (any replica may run it). Never throws. */
  async reapExpired(): Promise<number> {
    // Settles owed from a store outage first, so the reaper does not release reservations that were used; while
    // some are still owed (the store is flapping), this run releases nothing.
    await this.flushJournal();
    if (this.#journal.size > 0) return 0;
    const now = this.clock();
    return (await this.quietly('reap', () => this.store.reapExpired(now))) || 0;
  }

  /** Runs the reaper every intervalMs (unref'd timer). */
  startReaper(intervalMs = 5000): void {
    this.stopReaper();
    this.reaper = setInterval(() => void this.reapExpired(), intervalMs);
    this.reaper.unref();
  }

  stopReaper(): void {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = undefined;
  }

  /** Every limit of every configured subject in its current window (admin GET /budgets). */
  async snapshot(): Promise<BudgetView[]> {
    const now = this.clock();
    const rows: Array<{ subject: BudgetSubject; limit: Limit; counter: CounterRef }> = [];
    for (const subject of allSubjects(this.config)) {
      for (const limit of subject.limits) {
        const plan = planFor([{ ...subject, limits: [limit] }], now, this.config.timeZone);
        rows.push({ subject, limit, counter: plan.counters[0]! });
      }
    }
    const values = await this.timed('read', () => this.store.read(rows.map((r) => r.counter)));
    return rows.map(({ subject, limit }, i) => {
      const v = values[i]!;
      const display = (n: number) => (limit.metric === 'costUsd' ? n / NANO_PER_USD : n);
      const used = v.used[limit.metric];
      const reserved = v.reserved[limit.metric];
      const bounds = windowBounds(limit.window, now, this.config.timeZone);
      return {
        subject: subject.id,
        level: subject.level,
        kind: limit.kind,
        window: limit.window,
        metric: limit.metric,
        windowStart: new Date(bounds.start).toISOString(),
        windowEnd: new Date(bounds.end).toISOString(),
        limit: display(limit.amount),
        used: display(used),
        reserved: display(reserved),
        remaining: display(Math.max(0, limit.amount - used - reserved)),
      };
    });
  }

  async close(): Promise<void> {
    this.stopReaper();
    await this.flushJournal();
    await this.store.close();
  }

  private async timed<T>(operation: StoreOperation, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } catch (err) {
      this.hooks.onStoreError?.(operation, asError(err));
      throw err;
    } finally {
      this.hooks.onStoreLatency?.(operation, (performance.now() - start) / 1000);
    }
  }

  private async quietly<T>(operation: StoreOperation, fn: () => Promise<T>): Promise<T | false> {
    try {
      return await this.timed(operation, fn);
    } catch {
      return false;
    }
  }
}
