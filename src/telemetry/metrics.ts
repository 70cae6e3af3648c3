// Prometheus metrics. One registry per process; label values are bounded (config names, status classes),
// never request data or secrets.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'llm_extproc_' });

export const metrics = {
  xdsPushes: new Counter({
    name: 'llm_extproc_xds_pushes_total',
    help: 'xDS responses sent to clients, by protocol (sotw, delta) and resource type.',
    labelNames: ['protocol', 'type'] as const,
    registers: [registry],
  }),
  xdsNacks: new Counter({
    name: 'llm_extproc_xds_nacks_total',
    help: 'xDS updates a client rejected (kept its last good state), by resource type.',
    labelNames: ['type'] as const,
    registers: [registry],
  }),
  xdsStreams: new Gauge({
    name: 'llm_extproc_xds_streams',
    help: 'Open xDS streams by protocol.',
    labelNames: ['protocol'] as const,
    registers: [registry],
  }),
  requests: new Counter({
    name: 'llm_extproc_requests_total',
    help: 'Client requests finished by the router stage, by client model, backend and status class.',
    labelNames: ['model', 'backend', 'status_class'] as const,
    registers: [registry],
  }),
  localErrors: new Counter({
    name: 'llm_extproc_errors_total',
    help: 'Errors the service answered itself (immediate responses), by error code.',
    labelNames: ['code'] as const,
    registers: [registry],
  }),
  streamFailures: new Counter({
    name: 'llm_extproc_stream_failures_total',
    help: 'ext_proc streams that failed or were cancelled before completing, by stage and reason.',
    labelNames: ['stage', 'reason'] as const,
    registers: [registry],
  }),
  activeStreams: new Gauge({
    name: 'llm_extproc_active_streams',
    help: 'Open ext_proc Process streams by stage.',
    labelNames: ['stage'] as const,
    registers: [registry],
  }),
  streamSeconds: new Histogram({
    name: 'llm_extproc_stream_processing_seconds',
    help: 'Time the service spent on all messages of one ext_proc stream (its added latency), by stage.',
    labelNames: ['stage'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.25, 1],
    registers: [registry],
  }),
  tokens: new Counter({
    name: 'llm_extproc_tokens_total',
    help: 'Provider-reported tokens by client model, backend and kind (prompt, completion, cached_prompt, reasoning).',
    labelNames: ['model', 'backend', 'kind'] as const,
    registers: [registry],
  }),
  upstreamAuthFailures: new Counter({
    name: 'llm_extproc_upstream_auth_failures_total',
    help: "Provider answers rejecting the gateway's own credentials (401/403), by backend and upstream status; clients see 502.",
    labelNames: ['backend', 'status'] as const,
    registers: [registry],
  }),
  droppedParams: new Counter({
    name: 'llm_extproc_dropped_params_total',
    help: 'Request fields dropped because a backend cannot honour them and its unsupportedParams policy is drop, by backend and field.',
    labelNames: ['backend', 'param'] as const,
    registers: [registry],
  }),
  upstreamAttempts: new Counter({
    name: 'llm_extproc_upstream_attempts_total',
    help: 'Upstream attempts rewritten by the upstream stage, by backend.',
    labelNames: ['backend'] as const,
    registers: [registry],
  }),
  costUsd: new Counter({
    name: 'llm_extproc_cost_usd_total',
    help: 'Cost of provider-reported usage at the configured prices (budgets.prices), by client model and backend.',
    labelNames: ['model', 'backend'] as const,
    registers: [registry],
  }),
  budgetRefusals: new Counter({
    name: 'llm_extproc_budget_refusals_total',
    help: 'Requests refused before reaching a provider by the budgets, by error code (insufficient_quota, rate_limit_exceeded, invalid_api_key, missing_api_key, budget_unavailable).',
    labelNames: ['code'] as const,
    registers: [registry],
  }),
  budgetStoreErrors: new Counter({
    name: 'llm_extproc_budget_store_errors_total',
    help: 'Budget store failures (timeouts, lost connections), by operation.',
    labelNames: ['operation'] as const,
    registers: [registry],
  }),
  budgetStoreSeconds: new Histogram({
    name: 'llm_extproc_budget_store_seconds',
    help: 'Budget store call latency, by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
    registers: [registry],
  }),
  budgetFailOpen: new Counter({
    name: 'llm_extproc_budget_fail_open_total',
    help: 'Requests let through unreserved because the budget store failed and the policy is fail-open.',
    registers: [registry],
  }),
  usageMissing: new Counter({
    name: 'llm_extproc_usage_missing_total',
    help: 'Successful responses without provider-reported usage (settled with the counted prompt and, for streams, the tokens of the streamed text).',
    registers: [registry],
  }),
  upstreamInvalid: new Counter({
    name: 'llm_extproc_upstream_invalid_responses_total',
    help: 'Successful upstream answers the gateway could not read (invalid_json, too_deep, compressed), answered 502 upstream_invalid_response.',
    labelNames: ['backend', 'reason'] as const,
    registers: [registry],
  }),
  promptEstimateError: new Gauge({
    name: 'llm_extproc_prompt_estimate_error_ratio',
    help: 'Relative error of the last prompt-token estimate against provider usage ((estimate-actual)/actual), by model family.',
    labelNames: ['family'] as const,
    registers: [registry],
  }),
  configReloads: new Counter({
    name: 'llm_extproc_config_reloads_total',
    help: 'Config reloads by result (applied, rejected).',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  configGeneration: new Gauge({
    name: 'llm_extproc_config_generation',
    help: 'Generation number of the running config (1 at start, +1 per applied reload).',
    // With ext_proc workers (src/workers/): the generation every process runs (workers adopt the primary's a moment
    // after it reloads); summing them would be meaningless.
    aggregator: 'min',
    registers: [registry],
  }),
};

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
