// Budgets follow the config: created when a config has them, replaced only when the budgets section changes (a
// memory store would otherwise lose its counters on every unrelated reload), closed when removed. The encoders the
// configured models need (and only those: each costs tens of MB) load before the first budgeted request, and
// readiness waits for them; one a reload adds loads in the background (tokenizerFor loads it if a request is first).
import { createHash } from 'node:crypto';
import { Gauge } from 'prom-client';
import { Budgets, type BudgetHooks, type BudgetView } from './budget/budgets.js';
import type { BudgetsConfig } from './budget/config.js';
import type { Accounting } from './extproc/budget-gate.js';
import type { ServiceConfig } from './config/schema.js';
import { loadedEncodings, loadEncoders } from './tokens/counter.js';
import { encodingsForModels, type LoadedEncoding } from './tokens/encodings.js';
import { PromptEstimator } from './tokens/estimator.js';
import { errorMessage, log } from './telemetry/log.js';
import { metrics, registry } from './telemetry/metrics.js';

/** In-flight requests keep the Budgets they reserved with; give them time to settle before closing it. */
const RETIRE_AFTER_MS = 5 * 60_000;

/** Names one budgets config across processes (a worker's IPC store asks the primary for the ledger of this key). */
export function budgetsKey(config: BudgetsConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('base64url').slice(0, 22);
}

/** The encoders a config's budgets count with: those of every model a route sends to a backend. */
export function encodingsForConfig(config: ServiceConfig): LoadedEncoding[] {
  return encodingsForModels(config.routes.flatMap((route) => route.backends.map((ref) => ref.model ?? route.model)));
}

export interface AccountingOptions {
  /** Builds the Budgets of a config; default Budgets.create (the store the config names, with its reaper). */
  readonly createBudgets?: (config: BudgetsConfig, hooks: BudgetHooks) => Budgets;
  /** Whether this holder feeds llm_extproc_budget_remaining (the process holding the ledger does); default true. */
  readonly exportsRemaining?: boolean;
}

export class AccountingHolder {
  #current: Accounting | undefined;
  #configJson: string | undefined;
  #tokenizerReady = false;
  readonly #estimator = new PromptEstimator();
  /** Current and retiring Budgets by budgetsKey(), for the workers' IPC store (src/workers/budget-store.ts). */
  readonly #byKey = new Map<string, Budgets>();

  constructor(private readonly options: AccountingOptions = {}) {}

  current(): Accounting | undefined {
    return this.#current;
  }

  notReadyReasons(): string[] {
    return this.#configJson !== undefined && !this.#tokenizerReady ? ['tokenizer loading'] : [];
  }

  /** Applies a config's budgets; `encodings` are those its models count with (encodingsForConfig). */
  async apply(config: BudgetsConfig | undefined, encodings: readonly LoadedEncoding[]): Promise<void> {
    const json = config === undefined ? undefined : JSON.stringify(config);
    const missing = config === undefined ? [] : encodings.filter((e) => !loadedEncodings().includes(e));
    if (json === this.#configJson) {
      // Same budgets; a reload may have added a model whose encoder is not loaded yet.
      if (missing.length > 0) await loadEncoders(missing);
      return;
    }
    this.#configJson = json;
    // Budgets never go live before the tokenizer can count for them.
    if (config !== undefined && (!this.#tokenizerReady || missing.length > 0)) {
      await loadEncoders(missing);
      this.#tokenizerReady = true;
      // A later reload may have changed the budgets while we waited: the newest apply() wins.
      if (json !== this.#configJson) return;
    }
    const previous = this.#current;
    const create = this.options.createBudgets ?? ((c: BudgetsConfig, h: BudgetHooks) => Budgets.create(c, h));
    const current =
      config === undefined ? undefined : { budgets: create(config, hooks), config, estimator: this.#estimator };
    this.#current = current;
    if (current) this.#byKey.set(budgetsKey(current.config), current.budgets);
    if (this.options.exportsRemaining ?? true) remainingSource = current ? () => current.budgets.snapshot() : undefined;
    if (previous) {
      setTimeout(() => {
        const key = budgetsKey(previous.config);
        if (this.#byKey.get(key) === previous.budgets) this.#byKey.delete(key);
        void previous.budgets.close();
      }, RETIRE_AFTER_MS).unref();
    }
    log.info('budgets applied', { enabled: config !== undefined, store: config?.store.kind });
  }

  async close(): Promise<void> {
    await this.#current?.budgets.close();
  }

  /** The Budgets (current, or retiring with requests still in flight) of the config with this budgetsKey(). */
  budgetsFor(key: string): Budgets | undefined {
    return this.#byKey.get(key);
  }

  /** Every limit of every subject, for GET /budgets. */
  async snapshot(): Promise<unknown> {
    return this.#current
      ? { enabled: true, budgets: await this.#current.budgets.snapshot() }
      : { enabled: false, budgets: [] };
  }
}

// Remaining budget as a gauge, read from the store at scrape time (labels are config names: bounded).
let remainingSource: (() => Promise<BudgetView[]>) | undefined;
new Gauge({
  name: 'llm_extproc_budget_remaining',
  help: 'Remaining amount of each configured limit (tokens, requests, or USD for costUsd), by subject, window and metric.',
  labelNames: ['subject', 'window', 'metric'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const view of (await remainingSource?.().catch(() => [])) ?? []) {
      this.set({ subject: view.subject, window: view.window, metric: view.metric }, view.remaining);
    }
  },
});

const hooks = {
  onStoreError: (operation: string, error: Error) => {
    metrics.budgetStoreErrors.inc({ operation });
    log.warn('budget store error', { operation, error: errorMessage(error) });
  },
  onStoreLatency: (operation: string, seconds: number) => metrics.budgetStoreSeconds.observe({ operation }, seconds),
  onFailOpen: () => metrics.budgetFailOpen.inc(),
};
