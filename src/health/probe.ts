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
import { attemptCredentials } from '../credentials/index.js';
import { errorMessage, log } from '../telemetry/log.js';
import { runChecks, type CheckResult } from './checks.js';
import { CHECK_NAMES, type CheckName, type HealthConfig } from './config.js';
import type { HealthMonitor, VerdictCheck } from './monitor.js';
import { observeWholeBody, redact, type ObservedToolCall } from './observe.js';

/** The canary kinds, in rotation order (docs/health.md, "Active probes"). */
export const CANARY_KINDS = ['arithmetic', 'echo', 'json', 'json_schema', 'tool_call'] as const;
export type CanaryKind = (typeof CANARY_KINDS)[number];

export interface Canary {
  readonly kind: CanaryKind;
  readonly request: ChatRequest;
  /** Undefined when the answer (the first choice's content and tool calls) is right, else why not. */
  readonly expect: (content: string, toolCalls?: readonly ObservedToolCall[]) => string | undefined;
}

const WORDS = ['amber', 'falcon', 'quartz', 'meadow', 'lantern', 'cobalt', 'harbor', 'juniper', 'orchid', 'summit'];

/** The tool the tool_call canary forces, with integer arguments a and b. */
export const PROBE_TOOL = 'record_numbers';

const quote = (text: string) => JSON.stringify(text.slice(0, 80));

/** The answer parsed as a JSON object, or why it is not one. */
function jsonObject(text: string): { value: Record<string, unknown> } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: `not JSON: ${quote(text)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problem: `not a JSON object: ${quote(text)}` };
  return { value: value as Record<string, unknown> };
}

/** Why `value[key]` is not exactly `want`, or undefined when it is. */
function mismatch(value: Record<string, unknown>, key: string, want: string | number): string | undefined {
  if (!Object.hasOwn(value, key)) return `missing key "${key}"`;
  const got = value[key];
  return got === want
    ? undefined
    : `expected "${key}" ${JSON.stringify(want)}, got ${JSON.stringify(got)?.slice(0, 40) ?? 'undefined'}`;
}

/** The seq-th canary: rotates through CANARY_KINDS; `random` in [0, 1) picks operands and words. Pure. */
export function canary(seq: number, model: string, maxTokens: number, random: number): Canary {
  const kind = CANARY_KINDS[((seq % CANARY_KINDS.length) + CANARY_KINDS.length) % CANARY_KINDS.length] ?? 'arithmetic';
  return canaryOfKind(kind, model, maxTokens, random);
}

/** One canary of the given kind; `random` in [0, 1) picks operands and words. Pure. */
export function canaryOfKind(kind: CanaryKind, model: string, maxTokens: number, random: number): Canary {
  const base = { model, max_tokens: maxTokens, temperature: 0, stream: false } as const;
  const r = Math.floor(random * 1_000_000);
  const a = 10 + (r % 80);
  const b = 10 + (Math.floor(r / 80) % 80);
  const word = WORDS[r % WORDS.length] ?? 'amber';
  switch (kind) {
    case 'arithmetic':
      return {
        kind,
        request: {
          ...base,
          messages: [{ role: 'user', content: `What is ${a} + ${b}? Answer with the number only.` }],
        },
        expect: (content) =>
          new RegExp(`(^|\\D)${a + b}(\\D|$)`).test(content) ? undefined : `expected ${a + b}, got ${quote(content)}`,
      };
    case 'echo':
      return {
        kind,
        request: {
          ...base,
          messages: [{ role: 'user', content: `Reply with exactly this word and nothing else: ${word}` }],
        },
        expect: (content) =>
          content.toLowerCase().includes(word) ? undefined : `expected the word "${word}", got ${quote(content)}`,
      };
    case 'json': {
      const keys = ['name', 'count'];
      return {
        kind,
        request: {
          ...base,
          response_format: { type: 'json_object' },
          messages: [
            {
              role: 'user',
              content:
                'Return a JSON object with exactly the keys "name" (a string) and "count" (an integer). JSON only.',
            },
          ],
        },
        expect: (content) => {
          const parsed = jsonObject(content);
          if ('problem' in parsed) return parsed.problem;
          const missing = keys.filter((k) => !(k in parsed.value));
          return missing.length === 0 ? undefined : `missing keys ${missing.join(', ')}`;
        },
      };
    }
    case 'json_schema':
      return {
        kind,
        request: {
          ...base,
          response_format: {
            type: 'json_schema',
            json_schema: {
              name: 'probe_answer',
              strict: true,
              schema: {
                type: 'object',
                properties: { word: { type: 'string' }, number: { type: 'integer' } },
                required: ['word', 'number'],
                additionalProperties: false,
              },
            },
          },
          messages: [
            { role: 'user', content: `Return a JSON object with "word" set to "${word}" and "number" set to ${a}.` },
          ],
        },
        expect: (content) => {
          const parsed = jsonObject(content.trim());
          if ('problem' in parsed) return parsed.problem;
          return mismatch(parsed.value, 'word', word) ?? mismatch(parsed.value, 'number', a);
        },
      };
    case 'tool_call': {
      // Distinct arguments, so swapped ones fail.
      const second = b === a ? b + 1 : b;
      return {
        kind,
        request: {
          ...base,
          tools: [
            {
              type: 'function',
              function: {
                name: PROBE_TOOL,
                description: 'Records two integers.',
                strict: true,
                parameters: {
                  type: 'object',
                  properties: { a: { type: 'integer' }, b: { type: 'integer' } },
                  required: ['a', 'b'],
                  additionalProperties: false,
                },
              },
            },
          ],
          tool_choice: { type: 'function', function: { name: PROBE_TOOL } },
          messages: [{ role: 'user', content: `Call ${PROBE_TOOL} with a = ${a} and b = ${second}.` }],
        },
        expect: (_content, toolCalls = []) => {
          const call = toolCalls.find((t) => t.name === PROBE_TOOL);
          if (!call)
            return toolCalls.length === 0
              ? `expected a call of ${PROBE_TOOL}, got none`
              : `expected a call of ${PROBE_TOOL}, got ${quote(toolCalls.map((t) => t.name).join(', '))}`;
          const parsed = jsonObject(call.arguments);
          if ('problem' in parsed) return `arguments ${parsed.problem}`;
          return mismatch(parsed.value, 'a', a) ?? mismatch(parsed.value, 'b', second);
        },
      };
    }
  }
}

/** Why this backend's provider would refuse the canary (its checkRequest, as the router stage runs it), or undefined. */
export function refusal(backend: ResolvedBackend, upstreamModel: string, request: ChatRequest): string | undefined {
  try {
    providerFor(backend.provider).checkRequest(request, backend, upstreamModel);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

/** The canary a probe sends and the kinds skipped on the way: the seq-th kind, or the next in rotation the backend accepts. */
export interface CanaryChoice {
  readonly canary: Canary | undefined;
  readonly skipped: ReadonlyArray<{ readonly kind: CanaryKind; readonly reason: string }>;
}

/**
 * The seq-th canary, unless `refuses` (a provider's checkRequest) names a reason it cannot be sent: then the next kind
 * in rotation, and so on; `canary` undefined when every kind is refused. Pure given a pure `refuses`.
 */
export function pickCanary(
  seq: number,
  model: string,
  maxTokens: number,
  random: number,
  refuses: (request: ChatRequest) => string | undefined,
): CanaryChoice {
  const skipped: Array<{ kind: CanaryKind; reason: string }> = [];
  for (let i = 0; i < CANARY_KINDS.length; i++) {
    const test = canary(seq + i, model, maxTokens, random);
    const reason = refuses(test.request);
    if (reason === undefined) return { canary: test, skipped };
    skipped.push({ kind: test.kind, reason });
  }
  return { canary: undefined, skipped };
}

/** The wait before the next probe: intervalMs × (1 ± jitter), uniformly. Pure. */
export function nextDelay(intervalMs: number, jitter: number, random: number): number {
  return Math.max(1, Math.round(intervalMs * (1 + jitter * (2 * random - 1))));
}

type ProbeResult = { check: VerdictCheck; pass: boolean; detail: string };

/** Sends one canary to one backend and returns the results (network failures are a failed 'probe' result). */
export async function probeOnce(
  backend: ResolvedBackend,
  upstreamModel: string,
  test: Canary,
  timeoutMs: number,
): Promise<ProbeResult[]> {
  return (await probeWithUsage(backend, upstreamModel, test, timeoutMs)).results;
}

/** What one probe cost: `answered` false when no provider answered (nothing billed), else its usage if reported. */
export interface ProbeOutcome {
  readonly results: ProbeResult[];
  readonly answered: boolean;
  readonly usage: Usage | undefined;
  /** Set when the backend's provider refuses this canary (checkRequest): nothing was sent, nothing observed. */
  readonly skipped?: string;
}

export async function probeWithUsage(
  backend: ResolvedBackend,
  upstreamModel: string,
  test: Canary,
  timeoutMs: number,
): Promise<ProbeOutcome> {
  // A kind the provider cannot honour (e.g. no forced tool_choice) says nothing about the backend's health.
  const refused = refusal(backend, upstreamModel, test.request);
  if (refused !== undefined)
    return {
      results: [],
      answered: false,
      usage: undefined,
      skipped: `${test.kind} probe not supported: ${redact(refused.slice(0, 200))}`,
    };
  const provider = providerFor(backend.provider);
  const credentials = attemptCredentials(backend);
  const upstream = provider.buildRequest(test.request, { backend, upstreamModel, now: new Date(), credentials });
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
    return {
      results: [
        {
          check: 'probe',
          pass: false,
          detail: `${test.kind} probe failed: ${redact(errorMessage(err).slice(0, 200))}`,
        },
      ],
      answered: false,
      usage: undefined,
    };
  }
  const translated = provider.translateResponse(status, body, {
    request: test.request,
    clientWantsUsage: false,
    requestId: undefined,
    created: Math.floor(Date.now() / 1000),
  });
  const finalStatus = translated.status ?? status;
  if (finalStatus !== 200)
    return {
      results: [{ check: 'probe', pass: false, detail: `${test.kind} probe: HTTP ${finalStatus}` }],
      answered: true,
      usage: translated.usage,
    };
  const observed = observeWholeBody(translated.body ?? body);
  // Every content check applies to a probe; the answer must also be the expected one.
  const enabled = new Set<CheckName>(CHECK_NAMES.filter((c) => c !== 'latency' && c !== 'stream_incomplete'));
  const results: CheckResult[] = runChecks(test.request, observed, enabled, {
    repetition: { minChars: 200, threshold: 0.6 },
    finishReason: { lengthBelowFraction: 0 },
  });
  const first = observed.choices[0];
  const problem = observed.errorPayload ?? test.expect(first?.content ?? '', first?.toolCalls ?? []);
  return {
    results: [
      ...results,
      {
        check: 'probe',
        pass: problem === undefined,
        detail: problem === undefined ? `${test.kind} probe answered correctly` : `${test.kind} probe: ${problem}`,
      },
    ],
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
  /** backend + kind pairs already logged as refused by the provider (logged once each). */
  const refusedKinds = new Set<string>();

  /** Reserves the probe on probes.budgetSubject like a request; 'none' when no budget applies. */
  const reserve = async (
    accounting: Accounting | undefined,
    subject: string | undefined,
    test: Canary,
    upstreamModel: string,
  ): Promise<Reservation | 'none' | 'refused'> => {
    if (!accounting || subject === undefined) return 'none';
    const chain = tenantChain(accounting.config, subject);
    if (!chain) {
      log.warn('health.probes.budgetSubject names no configured team, key or workload: probes are not sent', {
        budgetSubject: subject,
      });
      return 'refused';
    }
    let promptTokens: number;
    try {
      promptTokens = accounting.estimator.count(test.request, upstreamModel).tokens;
    } catch {
      promptTokens = Math.ceil(JSON.stringify(test.request.messages).length / 4);
    }
    const outcome = await accounting.budgets.reserve(chain, {
      model: test.request.model,
      promptTokens,
      maxCompletionTokens: test.request.max_tokens ?? undefined,
    });
    return outcome.ok ? outcome.reservation : 'refused';
  };

  const settle = (
    accounting: Accounting | undefined,
    reservation: Reservation | 'none',
    outcome: ProbeOutcome,
    promptTokens: number,
  ) => {
    if (!accounting || reservation === 'none') return;
    if (!outcome.answered) return void accounting.budgets.release(reservation);
    const usage = outcome.usage ?? { promptTokens, completionTokens: 0, cachedPromptTokens: 0 };
    void accounting.budgets.settle(reservation, {
      promptTokens: usage.promptTokens,
      cachedPromptTokens: usage.cachedPromptTokens,
      completionTokens: usage.completionTokens,
    });
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
    const wanted =
      config.enabled &&
      config.probes.enabled &&
      (!config.probes.onlyUnhealthy || options.monitor.state(name) !== 'HEALTHY');
    if (wanted && !inFlight.has(name)) {
      inFlight.add(name);
      try {
        const accounting = options.accounting?.();
        if (accounting && !config.probes.paidBackends && costsMoney(accounting.config, target.model)) {
          skipped.set(name, 'skipped_paid');
          healthMetrics.probes.inc({ backend: name, outcome: 'skipped_paid' });
        } else {
          const choice = pickCanary(seq++, target.model, config.probes.maxTokens, random(), (request) =>
            refusal(target.backend, target.upstreamModel, request),
          );
          for (const { kind, reason } of choice.skipped) {
            const key = `${name}\u0000${kind}`;
            if (!refusedKinds.has(key))
              log.info("health probe kind skipped: the backend's provider refuses it", {
                backend: name,
                kind,
                reason: redact(reason.slice(0, 200)),
              });
            refusedKinds.add(key);
          }
          const test = choice.canary;
          if (!test) throw new Error('the provider refuses every canary kind');
          const reservation = await reserve(accounting, config.probes.budgetSubject, test, target.upstreamModel);
          if (reservation === 'refused') {
            skipped.set(name, 'skipped_budget');
            healthMetrics.probes.inc({ backend: name, outcome: 'skipped_budget' });
          } else {
            skipped.delete(name);
            healthMetrics.probes.inc({ backend: name, outcome: 'sent' });
            const outcome = await probeWithUsage(target.backend, target.upstreamModel, test, config.probes.timeoutMs);
            settle(accounting, reservation, outcome, reservation === 'none' ? 0 : reservation.amounts.inputTokens);
            if (!closed && outcome.results.length > 0)
              options.monitor.record(name, target.model, outcome.results, 'probe');
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
      return (
        config.enabled &&
        config.probes.enabled &&
        !skipped.has(backend) &&
        options.backends().some((b) => b.backend.name === backend)
      );
    },
    close: () => {
      closed = true;
      clearInterval(again);
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
