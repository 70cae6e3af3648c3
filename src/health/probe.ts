// Active probes: canary prompts with verifiable answers, sent to each enabled backend on a jittered schedule,
// straight to the backend through the same provider translation the upstream stage uses (buildRequest with the
// backend's credentials, translateResponse back to the unified shape), then through the same passive checks plus
// the canary's own expectation. Each probe is one observation for the backend's score (docs/health.md).
//
// Why direct rather than through Envoy's listener: a backend the verdicts took out (UNHEALTHY) gets no traffic
// from Envoy, so a probe through Envoy could never see it recover, and pinning one endpoint through Envoy would
// need an override-host policy in every cluster. Direct probes exercise the provider translation, credentials,
// DNS, TLS to the provider and the model itself; they do not exercise Envoy's cluster config (outlier detection
// and Envoy's own health checks cover that).
import type { ResolvedBackend } from '../config/topology.js';
import type { ChatRequest } from '../unified/chat-request.js';
import type { Usage } from '../unified/usage.js';
import type { Accounting } from '../extproc/budget-gate.js';
import type { BudgetsConfig } from '../budget/config.js';
import { tenantChain } from '../budget/identity.js';
import type { Reservation } from '../budget/budgets.js';
import { healthMetrics } from './metrics.js';
import { providerFor } from '../providers/registry.js';
import { errorMessage, log } from '../telemetry/log.js';
import { runChecks, type CheckResult } from './checks.js';
import { CHECK_NAMES, type CheckName, type HealthConfig } from './config.js';
import type { HealthMonitor, VerdictCheck } from './monitor.js';
import { observeWholeBody, redact } from './observe.js';

export interface Canary {
  readonly kind: 'arithmetic' | 'echo' | 'json';
  readonly request: ChatRequest;
  /** Undefined when the answer is right, else why not. */
  readonly expect: (content: string) => string | undefined;
}

const WORDS = ['amber', 'falcon', 'quartz', 'meadow', 'lantern', 'cobalt', 'harbor', 'juniper', 'orchid', 'summit'];

/** The seq-th canary (rotates arithmetic, echo, JSON); `random` in [0, 1) picks operands. Pure. */
export function canary(seq: number, model: string, maxTokens: number, random: number): Canary {
  const base = { model, max_tokens: maxTokens, temperature: 0, stream: false } as const;
  const r = Math.floor(random * 1_000_000);
  switch (seq % 3) {
    case 0: {
      const a = 10 + (r % 80);
      const b = 10 + (Math.floor(r / 80) % 80);
      return {
        kind: 'arithmetic',
        request: { ...base, messages: [{ role: 'user', content: `What is ${a} + ${b}? Answer with the number only.` }] },
        expect: (content) => (new RegExp(`(^|\\D)${a + b}(\\D|$)`).test(content) ? undefined : `expected ${a + b}, got ${JSON.stringify(content.slice(0, 80))}`),
      };
    }
    case 1: {
      const word = WORDS[r % WORDS.length] ?? 'amber';
      return {
        kind: 'echo',
        request: { ...base, messages: [{ role: 'user', content: `Reply with exactly this word and nothing else: ${word}` }] },
        expect: (content) => (content.toLowerCase().includes(word) ? undefined : `expected the word "${word}", got ${JSON.stringify(content.slice(0, 80))}`),
      };
    }
    default: {
      const keys = ['name', 'count'];
      return {
        kind: 'json',
        request: {
          ...base,
          response_format: { type: 'json_object' },
          messages: [{ role: 'user', content: 'Return a JSON object with exactly the keys "name" (a string) and "count" (an integer). JSON only.' }],
        },
        expect: (content) => {
          try {
            const value: unknown = JSON.parse(content);
            if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
            const missing = keys.filter((k) => !(k in value));
            return missing.length === 0 ? undefined : `missing keys ${missing.join(', ')}`;
          } catch {
            return `not JSON: ${JSON.stringify(content.slice(0, 80))}`;
          }
        },
      };
    }
  }
}

/** The wait before the next probe: intervalMs × (1 ± jitter), uniformly. Pure. */
export function nextDelay(intervalMs: number, jitter: number, random: number): number {
  return Math.max(1, Math.round(intervalMs * (1 + jitter * (2 * random - 1))));
}

type ProbeResult = { check: VerdictCheck; pass: boolean; detail: string };

/** Sends one canary to one backend and returns the results (network failures are a failed 'probe' result). */
export async function probeOnce(backend: ResolvedBackend, upstreamModel: string, test: Canary, timeoutMs: number): Promise<ProbeResult[]> {
  return (await probeWithUsage(backend, upstreamModel, test, timeoutMs)).results;
}

/** What one probe cost: `answered` false when no provider answered (nothing billed), else its usage if reported. */
export interface ProbeOutcome {
  readonly results: ProbeResult[];
  readonly answered: boolean;
  readonly usage: Usage | undefined;
}

export async function probeWithUsage(backend: ResolvedBackend, upstreamModel: string, test: Canary, timeoutMs: number): Promise<ProbeOutcome> {
  const provider = providerFor(backend.provider);
  const upstream = provider.buildRequest(test.request, { backend, upstreamModel, now: new Date() });
  const url = new URL(upstream.path, backend.baseUrl.origin);
  let status: number;
  let body: Buffer;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...upstream.headers, 'accept-encoding': 'identity' },
      body: upstream.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    return { results: [{ check: 'probe', pass: false, detail: `${test.kind} probe failed: ${redact(errorMessage(err).slice(0, 200))}` }], answered: false, usage: undefined };
  }
  const translated = provider.translateResponse(status, body, { request: test.request, clientWantsUsage: false, requestId: undefined, created: Math.floor(Date.now() / 1000) });
  const finalStatus = translated.status ?? status;
  if (finalStatus !== 200) return { results: [{ check: 'probe', pass: false, detail: `${test.kind} probe: HTTP ${finalStatus}` }], answered: true, usage: translated.usage };
  const observed = observeWholeBody(translated.body ?? body);
  // Every content check applies to a probe; the answer must also be the expected one.
  const enabled = new Set<CheckName>(CHECK_NAMES.filter((c) => c !== 'latency' && c !== 'stream_incomplete'));
  const results: CheckResult[] = runChecks(test.request, observed, enabled, { repetition: { minChars: 200, threshold: 0.6 }, finishReason: { lengthBelowFraction: 0 } });
  const content = observed.choices[0]?.content ?? '';
  const problem = observed.errorPayload ?? test.expect(content);
  return {
    results: [...results, { check: 'probe', pass: problem === undefined, detail: problem === undefined ? `${test.kind} probe answered correctly` : `${test.kind} probe: ${problem}` }],
    answered: true,
    usage: translated.usage,
  };
}

/** A route model costs money when budgets price it (its own price or "*") above zero. Pure. */
export function costsMoney(budgets: BudgetsConfig, model: string): boolean {
  const price = budgets.prices[model] ?? budgets.prices['*'];
  return price !== undefined && (price.input > 0 || price.output > 0 || (price.cachedInput ?? 0) > 0);
}

/** Why a backend is not probed right now (no half-open skip for it then), or undefined when it is. */
export type ProbeSkip = 'skipped_paid' | 'skipped_budget';

export interface Prober {
  /** Whether probes will observe this backend (enabled, not skipped for cost or budget at its last turn). */
  covers(backend: string): boolean;
  close(): void;
}

/** One jittered timer per enabled backend; reconciled on every tick with the current config and topology. */
export function startProber(options: {
  readonly monitor: HealthMonitor;
  readonly config: () => HealthConfig;
  readonly backends: () => ReadonlyArray<{ backend: ResolvedBackend; model: string; upstreamModel: string }>;
  readonly random?: () => number;
  /** The budgets, when configured: probes of paid backends need probes.paidBackends; probes.budgetSubject pays. */
  readonly accounting?: () => Accounting | undefined;
}): Prober {
  const random = options.random ?? Math.random;
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Set<string>();
  const skipped = new Map<string, ProbeSkip>();

  /** Reserves the probe on probes.budgetSubject like a request; 'none' when no budget applies. */
  const reserve = async (accounting: Accounting | undefined, subject: string | undefined, test: Canary, upstreamModel: string): Promise<Reservation | 'none' | 'refused'> => {
    if (!accounting || subject === undefined) return 'none';
    const chain = tenantChain(accounting.config, subject);
    if (!chain) {
      log.warn('health.probes.budgetSubject names no configured team, key or workload: probes are not sent', { budgetSubject: subject });
      return 'refused';
    }
    let promptTokens: number;
    try {
      promptTokens = accounting.estimator.count(test.request, upstreamModel).tokens;
    } catch {
      promptTokens = Math.ceil(JSON.stringify(test.request.messages).length / 4);
    }
    const outcome = await accounting.budgets.reserve(chain, { model: test.request.model, promptTokens, maxCompletionTokens: test.request.max_tokens ?? undefined });
    return outcome.ok ? outcome.reservation : 'refused';
  };

  const settle = (accounting: Accounting | undefined, reservation: Reservation | 'none', outcome: ProbeOutcome, promptTokens: number) => {
    if (!accounting || reservation === 'none') return;
    if (!outcome.answered) return void accounting.budgets.release(reservation);
    const usage = outcome.usage ?? { promptTokens, completionTokens: 0, cachedPromptTokens: 0 };
    void accounting.budgets.settle(reservation, { promptTokens: usage.promptTokens, cachedPromptTokens: usage.cachedPromptTokens, completionTokens: usage.completionTokens });
  };
  let seq = 0;
  let closed = false;

  const schedule = (name: string) => {
    if (closed) return;
    const probes = options.config().probes;
    const timer = setTimeout(() => void tick(name), nextDelay(probes.intervalMs, probes.jitter, random()));
    timer.unref();
    timers.set(name, timer);
  };

  const tick = async (name: string) => {
    const config = options.config();
    const target = options.backends().find((b) => b.backend.name === name);
    if (!target) {
      timers.delete(name);
      return;
    }
    const wanted = config.enabled && config.probes.enabled && (!config.probes.onlyUnhealthy || options.monitor.state(name) !== 'HEALTHY');
    if (wanted && !inFlight.has(name)) {
      inFlight.add(name);
      try {
        const accounting = options.accounting?.();
        if (accounting && !config.probes.paidBackends && costsMoney(accounting.config, target.model)) {
          skipped.set(name, 'skipped_paid');
          healthMetrics.probes.inc({ backend: name, outcome: 'skipped_paid' });
        } else {
          const test = canary(seq++, target.model, config.probes.maxTokens, random());
          const reservation = await reserve(accounting, config.probes.budgetSubject, test, target.upstreamModel);
          if (reservation === 'refused') {
            skipped.set(name, 'skipped_budget');
            healthMetrics.probes.inc({ backend: name, outcome: 'skipped_budget' });
          } else {
            skipped.delete(name);
            healthMetrics.probes.inc({ backend: name, outcome: 'sent' });
            const outcome = await probeWithUsage(target.backend, target.upstreamModel, test, config.probes.timeoutMs);
            settle(accounting, reservation, outcome, reservation === 'none' ? 0 : reservation.amounts.inputTokens);
            if (!closed) options.monitor.record(name, target.model, outcome.results, 'probe');
          }
        }
      } catch (err) {
        log.warn('health probe could not be sent', { backend: name, error: errorMessage(err) });
      } finally {
        inFlight.delete(name);
      }
    }
    schedule(name);
  };

  const reconcile = () => {
    for (const { backend } of options.backends()) if (!timers.has(backend.name)) schedule(backend.name);
  };
  reconcile();
  const again = setInterval(reconcile, 5_000);
  again.unref();
  return {
    covers: (backend) => {
      const config = options.config();
      return config.enabled && config.probes.enabled && !skipped.has(backend) && options.backends().some((b) => b.backend.name === backend);
    },
    close: () => {
      closed = true;
      clearInterval(again);
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
