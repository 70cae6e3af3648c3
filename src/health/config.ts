// The `health` section of the service config (docs/health.md): which passive checks run (globally and per route),
// the failure score and its thresholds, and the active probes. Every key has a default; probes are off by default
// because they spend provider tokens.
import { z } from 'zod';

export const CHECK_NAMES = [
  'empty',
  'finish_reason',
  'json',
  'tool_calls',
  'repetition',
  'error_payload',
  'stream_incomplete',
  'latency',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** Per-check switches; omitted ones keep their default (every passive check on). */
const checksSchema = z.strictObject({
  empty: z.boolean().optional(),
  finish_reason: z.boolean().optional(),
  json: z.boolean().optional(),
  tool_calls: z.boolean().optional(),
  repetition: z.boolean().optional(),
  error_payload: z.boolean().optional(),
  stream_incomplete: z.boolean().optional(),
  latency: z.boolean().optional(),
});

export const healthConfigSchema = z.strictObject({
  /** Passive checks on every 200 response, verdicts and scores. false: nothing is observed or published. */
  enabled: z.boolean().default(true),
  /** Which checks run for every route (defaults: all). */
  checks: checksSchema.prefault({}),
  /** Per client model: overrides of `checks` for that route. */
  routes: z.record(z.string(), z.strictObject({ checks: checksSchema.prefault({}) })).default({}),
  repetition: z
    .strictObject({
      /** Texts shorter than this many characters are never scored (too little signal). */
      minChars: z.number().int().min(20).default(200),
      /** A response whose repetition score (0..1) exceeds this fails the check. */
      threshold: z.number().min(0).max(1).default(0.6),
    })
    .prefault({}),
  finishReason: z
    .strictObject({
      /** finish_reason 'length' fails when completion tokens < this fraction of the request's max tokens. */
      lengthBelowFraction: z.number().min(0).max(1).default(0.5),
    })
    .prefault({}),
  latency: z
    .strictObject({
      /** Observations of a backend+model before its baseline is trusted. */
      warmup: z.number().int().min(2).default(20),
      /** Baseline EWMA half-life, in observations. */
      halfLife: z.number().positive().default(50),
      /** A TTFT (log scale) or tokens-per-second sample this many deviations off the baseline is an outlier. */
      zThreshold: z.number().positive().default(4),
    })
    .prefault({}),
  score: z
    .strictObject({
      /** EWMA half-life of the failure score, in observations (responses and probes). */
      halfLife: z.number().positive().default(5),
      /** Above this score the backend is published DEGRADED. */
      degradedAbove: z.number().min(0).max(1).default(0.3),
      /** Above this score the backend is published UNHEALTHY (taken out). */
      unhealthyAbove: z.number().min(0).max(1).default(0.6),
      /** Consecutive clean observations that bring a DEGRADED or UNHEALTHY backend back to HEALTHY. */
      recoverAfter: z.number().int().min(1).default(3),
      /**
       * Without probes an UNHEALTHY backend gets no traffic, hence no observation: after this long it is let back
       * in on probation (half-open; the first failure takes it out again). Ignored while probes are enabled.
       */
      halfOpenAfterMs: z.number().int().min(1000).default(30_000),
      /** Last verdicts kept per backend for admin GET /health/backends. */
      keepVerdicts: z.number().int().min(0).max(200).default(20),
    })
    .prefault({})
    .refine((s) => s.unhealthyAbove >= s.degradedAbove, { message: 'unhealthyAbove must be >= degradedAbove' }),
  probes: z
    .strictObject({
      /** Canary prompts to every enabled backend of every route. Off by default: they spend tokens. */
      enabled: z.boolean().default(false),
      intervalMs: z.number().int().min(100).default(60_000),
      /** Each wait is intervalMs × (1 ± jitter), uniformly. */
      jitter: z.number().min(0).max(1).default(0.2),
      timeoutMs: z.number().int().positive().default(10_000),
      maxTokens: z.number().int().min(1).max(4096).default(32),
      /** Probe only backends that are not HEALTHY (recovery), not healthy ones too. */
      onlyUnhealthy: z.boolean().default(false),
      /**
       * With budgets configured: probe backends that cost money (their route model priced above 0 in
       * budgets.prices, or by "*"). Off by default; a paid backend that is not probed recovers by half-open trials.
       */
      paidBackends: z.boolean().default(false),
      /**
       * With budgets configured: the tenant every probe is reserved and settled on, like a request: `org/team` or
       * `org/team/name` (a key or workload). A refused reservation skips the probe (half-open trials then apply).
       */
      budgetSubject: z.string().min(1).optional(),
    })
    .prefault({}),
});

export type HealthConfig = z.infer<typeof healthConfigSchema>;

/** Default: every check on unless the global or route switch turns it off (route wins). */
export function checksFor(config: HealthConfig, model: string): ReadonlySet<CheckName> {
  const route = config.routes[model]?.checks ?? {};
  const on = new Set<CheckName>();
  for (const name of CHECK_NAMES) if ((route[name] ?? config.checks[name] ?? true) === true) on.add(name);
  return on;
}
