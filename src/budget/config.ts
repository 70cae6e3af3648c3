// The `budgets:` section of the service config (docs/budgets.md). Absent ⇒ budgets off.
import { z } from 'zod';

export const WINDOWS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type BudgetWindow = (typeof WINDOWS)[number];

/** What a limit counts. `costUsd` is kept internally in nano-USD (integers) so counters never drift. */
export const METRICS = ['requests', 'inputTokens', 'outputTokens', 'totalTokens', 'costUsd'] as const;
export type Metric = (typeof METRICS)[number];

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "." and "-"');
const positive = z.number().positive();
const positiveInt = z.number().int().positive();

const limitSchema = z
  .strictObject({
    window: z.enum(WINDOWS),
    requests: positiveInt.optional(),
    inputTokens: positiveInt.optional(),
    outputTokens: positiveInt.optional(),
    totalTokens: positiveInt.optional(),
    costUsd: positive.optional(),
  })
  .refine((l) => METRICS.some((m) => l[m] !== undefined), {
    message: 'a limit needs at least one of requests, inputTokens, outputTokens, totalTokens, costUsd',
  });

/** Fixed one-minute windows (docs/budgets.md explains fixed vs sliding). Exhausting them → rate_limit_exceeded. */
const rateSchema = z
  .strictObject({ rpm: positiveInt.optional(), tpm: positiveInt.optional() })
  .refine((r) => r.rpm !== undefined || r.tpm !== undefined, { message: 'rate needs rpm or tpm' });

const limits = z.array(limitSchema).default([]);

const keySchema = z.strictObject({
  name,
  /** SHA-256 of the virtual key, hex. The key itself is never in the config. */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected the SHA-256 of the key as 64 hex digits')
    .transform((s) => s.toLowerCase()),
  limits,
  rate: rateSchema.optional(),
});

const workloadSchema = z.strictObject({
  /** Envoy source.principal, e.g. spiffe://cluster.local/ns/search/sa/api. */
  principal: z.string().min(1),
  /** Name used in the trusted tenant header, metrics and errors; defaults to the principal. */
  name: z.string().min(1).optional(),
  limits,
  rate: rateSchema.optional(),
});

const teamSchema = z.strictObject({
  name,
  limits,
  rate: rateSchema.optional(),
  keys: z.array(keySchema).default([]),
  workloads: z.array(workloadSchema).default([]),
});

const organisationSchema = z.strictObject({
  name,
  limits,
  rate: rateSchema.optional(),
  teams: z.array(teamSchema).default([]),
});

const priceSchema = z.strictObject({
  /** USD per 1M prompt tokens. */
  input: z.number().min(0),
  /** USD per 1M cached prompt tokens; defaults to `input`. */
  cachedInput: z.number().min(0).optional(),
  /** USD per 1M completion tokens (reasoning included). */
  output: z.number().min(0),
});

const storeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('memory') }),
  z.strictObject({
    kind: z.literal('redis'),
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis://host:port or rediss://host:port')
      .default('redis://127.0.0.1:6379'),
    keyPrefix: z.string().default('llm-extproc:'),
    /** A command not answered by then fails (and the onStoreFailure policy applies). */
    commandTimeoutMs: positiveInt.default(200),
  }),
]);

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const budgetsConfigSchema = z
  .strictObject({
    store: storeSchema.default({ kind: 'memory' }),
    onStoreFailure: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
    /** IANA zone for day/week/month boundaries. */
    timeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as UTC or Europe/Paris').default('UTC'),
    /** Expected completion tokens per choice when the request has no max_tokens / max_completion_tokens. */
    defaultCompletionTokens: positiveInt.default(1024),
    /** A reservation neither settled nor released by then is reaped (released). */
    reservationTtlSeconds: positiveInt.default(600),
    /** USD per 1M tokens by client (route) model. `"*"` prices every model not listed. */
    prices: z.record(z.string().min(1), priceSchema).default({}),
    organisations: z.array(organisationSchema).default([]),
    /** A principal listed here may name the tenant in this header: `org/team` or `org/team/name` (key or workload name). */
    trustedTenantHeader: z
      .strictObject({
        name: z.string().min(1).toLowerCase().default('x-llm-tenant'),
        fromPrincipals: z.array(z.string().min(1)).min(1),
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    const orgs = new Set<string>();
    const hashes = new Map<string, string>();
    const principals = new Map<string, string>();
    config.organisations.forEach((org, i) => {
      if (orgs.has(org.name))
        ctx.addIssue({
          code: 'custom',
          path: ['organisations', i, 'name'],
          message: `duplicate organisation "${org.name}"`,
        });
      orgs.add(org.name);
      const teams = new Set<string>();
      org.teams.forEach((team, j) => {
        const teamPath = ['organisations', i, 'teams', j];
        if (teams.has(team.name))
          ctx.addIssue({
            code: 'custom',
            path: [...teamPath, 'name'],
            message: `duplicate team "${team.name}" in "${org.name}"`,
          });
        teams.add(team.name);
        const members = new Set<string>();
        team.keys.forEach((key, k) => {
          if (members.has(key.name))
            ctx.addIssue({
              code: 'custom',
              path: [...teamPath, 'keys', k, 'name'],
              message: `duplicate name "${key.name}" in team "${team.name}"`,
            });
          members.add(key.name);
          const other = hashes.get(key.sha256);
          if (other !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [...teamPath, 'keys', k, 'sha256'],
              message: `same key hash as ${other}`,
            });
          hashes.set(key.sha256, `${org.name}/${team.name}/${key.name}`);
        });
        team.workloads.forEach((w, k) => {
          const wName = w.name ?? w.principal;
          if (members.has(wName))
            ctx.addIssue({
              code: 'custom',
              path: [...teamPath, 'workloads', k, 'name'],
              message: `duplicate name "${wName}" in team "${team.name}"`,
            });
          members.add(wName);
          const other = principals.get(w.principal);
          if (other !== undefined)
            ctx.addIssue({
              code: 'custom',
              path: [...teamPath, 'workloads', k, 'principal'],
              message: `principal already used by ${other}`,
            });
          principals.set(w.principal, `${org.name}/${team.name}`);
        });
      });
    });
  });

export type BudgetsConfig = z.infer<typeof budgetsConfigSchema>;
export type BudgetsConfigInput = z.input<typeof budgetsConfigSchema>;
export type LimitConfig = z.infer<typeof limitSchema>;
export type RateConfig = z.infer<typeof rateSchema>;
