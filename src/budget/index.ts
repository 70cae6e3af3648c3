// Public surface of budgets (docs/budgets.md).
export { budgetsConfigSchema, METRICS, WINDOWS, type BudgetsConfig, type BudgetsConfigInput, type BudgetWindow, type Metric } from './config.js';
export { allSubjects, hashKey, resolveIdentity, type IdentityError, type IdentityInput, type IdentityResult } from './identity.js';
export {
  actualAmounts,
  costNanoUsd,
  firstViolation,
  formatDuration,
  planFor,
  rateLimitHeaders,
  rejection,
  reservationAmounts,
  windowBounds,
  type Amounts,
  type BudgetSubject,
  type RejectionResponse,
  type ReservationInput,
  type TokenCounts,
  type Violation,
} from './ledger.js';
export { MemoryStore, type BudgetStore, type CounterValues, type ReserveRequest, type ReserveResult } from './store.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export {
  Budgets,
  type BudgetHooks,
  type BudgetsOptions,
  type BudgetView,
  type Reservation,
  type ReserveOutcome,
  type StoreOperation,
  type StoreUnavailableResponse,
} from './budgets.js';
