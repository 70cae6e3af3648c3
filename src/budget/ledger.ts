// Pure budget arithmetic (docs/budgets.md): window boundaries, prices, reservation amounts, the fit check and the
// OpenAI rate-limit headers. Data in, data out; the stores apply the same fit rule atomically.
import {
  METRICS,
  type BudgetWindow,
  type BudgetsConfig,
  type LimitConfig,
  type Metric,
  type RateConfig,
} from './config.js';
import { errorReply, type ErrorReply } from '../unified/errors.js';

/** One amount per metric, in internal units: costUsd is nano-USD (10^-9 USD), everything is an integer. */
export type Amounts = Readonly<Record<Metric, number>>;

export const ZERO: Amounts = { requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 };
export const NANO_PER_USD = 1e9;

export type SubjectLevel = 'organisation' | 'team' | 'key' | 'workload';

/** One limit of one subject. `kind: rate` comes from `rate: {rpm, tpm}`, `quota` from `limits[]`. */
export interface Limit {
  readonly kind: 'quota' | 'rate';
  readonly window: BudgetWindow;
  readonly metric: Metric;
  /** Internal units (nano-USD for costUsd). */
  readonly amount: number;
}

/** A level of the hierarchy a request is charged to. `id` is a path of names (never a key or its hash). */
export interface BudgetSubject {
  readonly level: SubjectLevel;
  readonly id: string;
  readonly limits: readonly Limit[];
}

export function limitsOf(limits: readonly LimitConfig[], rate: RateConfig | undefined): Limit[] {
  const out: Limit[] = [];
  for (const limit of limits) {
    for (const metric of METRICS) {
      const value = limit[metric];
      if (value === undefined) continue;
      out.push({
        kind: 'quota',
        window: limit.window,
        metric,
        amount: metric === 'costUsd' ? Math.round(value * NANO_PER_USD) : value,
      });
    }
  }
  if (rate?.rpm !== undefined) out.push({ kind: 'rate', window: 'minute', metric: 'requests', amount: rate.rpm });
  if (rate?.tpm !== undefined) out.push({ kind: 'rate', window: 'minute', metric: 'totalTokens', amount: rate.tpm });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Windows. minute: epoch-aligned; hour: the zone's wall-clock hour; day, ISO week (Monday) and month: wall-clock
// midnights in the zone, so a DST day lasts 23 or 25 hours. A day starting inside a DST gap starts at the first
// instant of that local date.

interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function wallClock(ms: number, timeZone: string): WallClock {
  const fields: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return {
    year: fields.year ?? 1970,
    month: fields.month ?? 1,
    day: fields.day ?? 1,
    hour: fields.hour ?? 0,
    minute: fields.minute ?? 0,
    second: fields.second ?? 0,
  };
}

/** Offset of the zone from UTC at an instant, in ms (east positive). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole;
}

/** First instant of a local date (month/day may overflow; Date.UTC normalises them). */
export function startOfLocalDay(year: number, month: number, day: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day);
  const target = new Date(guess);
  const [ty, tm, td] = [target.getUTCFullYear(), target.getUTCMonth() + 1, target.getUTCDate()];
  let best: number | undefined;
  for (const probe of [guess - 36 * 3_600_000, guess, guess + 36 * 3_600_000]) {
    const t = guess - zoneOffsetMs(probe, timeZone);
    const w = wallClock(t, timeZone);
    if (w.year === ty && w.month === tm && w.day === td && (best === undefined || t < best)) best = t;
  }
  return best ?? guess - zoneOffsetMs(guess, timeZone);
}

export interface WindowBounds {
  readonly start: number;
  readonly end: number;
}

// The last bounds per zone and window: a window instance stays valid until it ends, so the Intl work is done once
// per window instance, not per request.
const lastBounds = new Map<string, WindowBounds>();

export function windowBounds(window: BudgetWindow, now: number, timeZone: string): WindowBounds {
  const cacheKey = `${window}|${timeZone}`;
  const cached = lastBounds.get(cacheKey);
  if (cached && cached.start <= now && now < cached.end) return cached;
  const bounds = computeWindowBounds(window, now, timeZone);
  if (lastBounds.size > 1000) lastBounds.clear();
  lastBounds.set(cacheKey, bounds);
  return bounds;
}

function computeWindowBounds(window: BudgetWindow, now: number, timeZone: string): WindowBounds {
  if (window === 'minute') {
    const start = now - (((now % 60_000) + 60_000) % 60_000);
    return { start, end: start + 60_000 };
  }
  const w = wallClock(now, timeZone);
  if (window === 'hour') {
    const start = now - (((now % 1000) + 1000) % 1000) - (w.minute * 60 + w.second) * 1000;
    return { start, end: start + 3_600_000 };
  }
  if (window === 'day') {
    return {
      start: startOfLocalDay(w.year, w.month, w.day, timeZone),
      end: startOfLocalDay(w.year, w.month, w.day + 1, timeZone),
    };
  }
  if (window === 'week') {
    const monday = w.day - ((new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay() + 6) % 7);
    return {
      start: startOfLocalDay(w.year, w.month, monday, timeZone),
      end: startOfLocalDay(w.year, w.month, monday + 7, timeZone),
    };
  }
  return {
    start: startOfLocalDay(w.year, w.month, 1, timeZone),
    end: startOfLocalDay(w.year, w.month + 1, 1, timeZone),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Money and amounts.

export type Prices = BudgetsConfig['prices'];

export interface TokenCounts {
  readonly promptTokens: number;
  /** Part of promptTokens served from the provider's prompt cache. */
  readonly cachedPromptTokens?: number;
  readonly completionTokens: number;
}

/** Cost in nano-USD; `rounding` is ceil for estimates (never under-reserve) and round for actual usage. */
export function costNanoUsd(
  prices: Prices,
  model: string,
  tokens: TokenCounts,
  rounding: 'ceil' | 'round' = 'round',
): number {
  const price = prices[model] ?? prices['*'];
  if (!price) return 0;
  const cached = Math.min(tokens.cachedPromptTokens ?? 0, tokens.promptTokens);
  // USD per 1M tokens = 1000 nano-USD per token.
  const nano =
    1000 *
    ((tokens.promptTokens - cached) * price.input +
      cached * (price.cachedInput ?? price.input) +
      tokens.completionTokens * price.output);
  return rounding === 'ceil' ? Math.ceil(nano - 1e-6) : Math.round(nano);
}

export interface ReservationInput {
  readonly model: string;
  /** Prompt tokens as counted before the request (src/tokens). */
  readonly promptTokens: number;
  /** max_completion_tokens ?? max_tokens from the request, if any. */
  readonly maxCompletionTokens?: number | undefined;
  /** Choices requested (`n`); each may produce up to maxCompletionTokens. */
  readonly n?: number | undefined;
}

/** What a request reserves: its prompt plus the expected completion, priced without the cache discount. */
export function reservationAmounts(input: ReservationInput, prices: Prices, defaultCompletionTokens: number): Amounts {
  const promptTokens = nonNegativeInt(input.promptTokens);
  const completionTokens = nonNegativeInt(
    (input.maxCompletionTokens ?? defaultCompletionTokens) * Math.max(1, input.n ?? 1),
  );
  return {
    requests: 1,
    inputTokens: promptTokens,
    outputTokens: completionTokens,
    totalTokens: promptTokens + completionTokens,
    costUsd: costNanoUsd(prices, input.model, { promptTokens, completionTokens }, 'ceil'),
  };
}

/** What a request actually used, from the provider's usage (OpenAI meaning: prompt includes cached). */
export function actualAmounts(model: string, usage: TokenCounts, prices: Prices): Amounts {
  const promptTokens = nonNegativeInt(usage.promptTokens);
  const completionTokens = nonNegativeInt(usage.completionTokens);
  const cachedPromptTokens = nonNegativeInt(usage.cachedPromptTokens ?? 0);
  return {
    requests: 1,
    inputTokens: promptTokens,
    outputTokens: completionTokens,
    totalTokens: promptTokens + completionTokens,
    costUsd: costNanoUsd(prices, model, { promptTokens, completionTokens, cachedPromptTokens }),
  };
}

function nonNegativeInt(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Plans: the counters a reservation touches and the checks it must pass.

/** One counter: a subject's usage in one window instance. `id` is stable across replicas. */
export interface CounterRef {
  readonly id: string;
  readonly subject: string;
  readonly level: SubjectLevel;
  readonly window: BudgetWindow;
  readonly start: number;
  readonly end: number;
}

export interface Check {
  /** Index into plan.counters. */
  readonly counter: number;
  readonly limit: Limit;
}

export interface Plan {
  readonly counters: readonly CounterRef[];
  readonly checks: readonly Check[];
}

export function planFor(chain: readonly BudgetSubject[], now: number, timeZone: string): Plan {
  const counters: CounterRef[] = [];
  const index = new Map<string, number>();
  const checks: Check[] = [];
  for (const subject of chain) {
    for (const limit of subject.limits) {
      const bounds = windowBounds(limit.window, now, timeZone);
      const id = `${encodeURIComponent(subject.id)}:${limit.window}:${bounds.start}`;
      let i = index.get(id);
      if (i === undefined) {
        i = counters.length;
        index.set(id, i);
        counters.push({ id, subject: subject.id, level: subject.level, window: limit.window, ...bounds });
      }
      checks.push({ counter: i, limit });
    }
  }
  return { counters, checks };
}

/** The fit rule every store applies atomically: each check's used + reserved + requested ≤ limit. */
export function fits(checks: readonly Check[], current: readonly number[], amounts: Amounts): boolean {
  return checks.every((check, i) => (current[i] ?? 0) + amounts[check.limit.metric] <= check.limit.amount);
}

export interface Violation {
  readonly code: 'insufficient_quota' | 'rate_limit_exceeded';
  readonly level: SubjectLevel;
  readonly subject: string;
  readonly window: BudgetWindow;
  readonly metric: Metric;
  /** Display units (USD for costUsd). */
  readonly limit: number;
  readonly current: number;
  readonly requested: number;
  readonly remaining: number;
  readonly resetAt: number;
}

export function firstViolation(plan: Plan, current: readonly number[], amounts: Amounts): Violation | undefined {
  for (const [i, check] of plan.checks.entries()) {
    const used = current[i] ?? 0;
    const need = amounts[check.limit.metric];
    if (used + need <= check.limit.amount) continue;
    const counter = plan.counters[check.counter]!;
    const display = check.limit.metric === 'costUsd' ? (n: number) => n / NANO_PER_USD : (n: number) => n;
    return {
      code: check.limit.kind === 'rate' ? 'rate_limit_exceeded' : 'insufficient_quota',
      level: counter.level,
      subject: counter.subject,
      window: counter.window,
      metric: check.limit.metric,
      limit: display(check.limit.amount),
      current: display(used),
      requested: display(need),
      remaining: display(Math.max(0, check.limit.amount - used)),
      resetAt: counter.end,
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Headers (OpenAI's names): the tightest request limit and the tightest token limit over every level and window.

const TOKEN_METRICS: ReadonlySet<Metric> = new Set(['inputTokens', 'outputTokens', 'totalTokens']);

/** `granted`: remaining counts this request's reservation; otherwise it is what was left before it. */
export function rateLimitHeaders(
  plan: Plan,
  current: readonly number[],
  amounts: Amounts,
  now: number,
  granted: boolean,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [suffix, wanted] of [
    ['requests', (m: Metric) => m === 'requests'],
    ['tokens', (m: Metric) => TOKEN_METRICS.has(m)],
  ] as const) {
    let best: { limit: number; remaining: number; resetAt: number } | undefined;
    for (const [i, check] of plan.checks.entries()) {
      if (!wanted(check.limit.metric)) continue;
      const used = (current[i] ?? 0) + (granted ? amounts[check.limit.metric] : 0);
      const remaining = Math.max(0, check.limit.amount - used);
      const resetAt = plan.counters[check.counter]!.end;
      if (!best || remaining < best.remaining || (remaining === best.remaining && resetAt < best.resetAt)) {
        best = { limit: check.limit.amount, remaining, resetAt };
      }
    }
    if (!best) continue;
    headers[`x-ratelimit-limit-${suffix}`] = String(best.limit);
    headers[`x-ratelimit-remaining-${suffix}`] = String(best.remaining);
    headers[`x-ratelimit-reset-${suffix}`] = formatDuration(best.resetAt - now);
  }
  return headers;
}

/** OpenAI's reset format: "20ms", "1s", "1.5s", "6m0s", "26h3m0s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1000;
  const s = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

const METRIC_WORDS: Record<Metric, string> = {
  requests: 'requests',
  inputTokens: 'input tokens',
  outputTokens: 'output tokens',
  totalTokens: 'tokens',
  costUsd: 'cost (USD)',
};

/** The 429 for a violation: OpenAI's body shape, `retry-after` in whole seconds, and the rate-limit headers. */
export function rejection(v: Violation, headers: Record<string, string>, now: number): ErrorReply {
  const wait = Math.max(0, v.resetAt - now);
  const what = v.code === 'rate_limit_exceeded' ? `Rate limit reached` : `Budget exhausted`;
  const message =
    `${what} for ${v.level} ${v.subject} on ${METRIC_WORDS[v.metric]} per ${v.window}: ` +
    `limit ${v.limit}, used ${v.current}, requested ${v.requested}. Please try again in ${formatDuration(wait)}.`;
  const type = v.code === 'insufficient_quota' ? 'insufficient_quota' : v.metric === 'requests' ? 'requests' : 'tokens';
  return errorReply(429, type, v.code, message, {
    ...headers,
    'retry-after': String(Math.max(1, Math.ceil(wait / 1000))),
  });
}
