// One request's passage through the budgets: identify → count → reserve before anything leaves, then settle with
// the provider's usage, or release when nothing was charged. Every path ends in exactly one settle or release
// (the store's reaper catches a process that dies in between).
import type { Budgets, Reservation } from '../budget/budgets.js';
import type { BudgetsConfig } from '../budget/config.js';
import type { IdentityInput } from '../budget/identity.js';
import { costNanoUsd, NANO_PER_USD } from '../budget/ledger.js';
import type { ResolvedRoute, RouteEndpoint } from '../config/topology.js';
import type { PromptCount } from '../tokens/counter.js';
import type { PromptEstimator } from '../tokens/estimator.js';
import type { ChatRequest } from '../unified/chat-request.js';
import type { ErrorReply } from '../unified/errors.js';
import type { Usage } from '../unified/usage.js';
import { metrics } from '../telemetry/metrics.js';

export interface Accounting {
  readonly budgets: Budgets;
  readonly config: BudgetsConfig;
  readonly estimator: PromptEstimator;
}

/** A refusal (401, 429, 503) is a reply the router stage sends as an immediate response. */
export type GateOutcome =
  { readonly ok: true; readonly gate: BudgetGate } | { readonly ok: false; readonly refusal: ErrorReply };

/** The endpoint Envoy tries first decides which tokenizer counts the prompt. */
function primaryEndpoint(usable: readonly RouteEndpoint[]): RouteEndpoint | undefined {
  return [...usable].sort((a, b) => a.priority - b.priority)[0];
}

export class BudgetGate {
  #closed = false;

  private constructor(
    private readonly accounting: Accounting,
    private readonly route: ResolvedRoute,
    private readonly reservation: Reservation,
    readonly prompt: PromptCount,
    /** The backend whose tokenizer counted the prompt; only its usage teaches the estimator. */
    private readonly countedFor: string | undefined,
    /** x-ratelimit-* headers for the client's response. */
    readonly headers: Readonly<Record<string, string>>,
  ) {}

  static async open(
    accounting: Accounting,
    identity: IdentityInput,
    request: ChatRequest,
    route: ResolvedRoute,
    usable: readonly RouteEndpoint[],
  ): Promise<GateOutcome> {
    const who = accounting.budgets.identify(identity);
    if (!who.ok) {
      metrics.budgetRefusals.inc({ code: who.response.body.error.code ?? 'refused' });
      return { ok: false, refusal: who.response };
    }
    const primary = primaryEndpoint(usable);
    const prompt = accounting.estimator.count(request, primary?.upstreamModel ?? request.model);
    const outcome = await accounting.budgets.reserve(who.chain, {
      model: route.model,
      promptTokens: prompt.tokens,
      maxCompletionTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
      n: request.n ?? undefined,
    });
    if (!outcome.ok) {
      metrics.budgetRefusals.inc({ code: outcome.response.body.error.code ?? 'refused' });
      return { ok: false, refusal: outcome.response };
    }
    return {
      ok: true,
      gate: new BudgetGate(accounting, route, outcome.reservation, prompt, primary?.backend.name, outcome.headers),
    };
  }

  get subject(): string {
    return this.reservation.subject;
  }

  /** Cost in USD of this usage at the configured prices. */
  costUsd(usage: Usage): number {
    const tokens = {
      promptTokens: usage.promptTokens,
      cachedPromptTokens: usage.cachedPromptTokens,
      completionTokens: usage.completionTokens,
    };
    return costNanoUsd(this.accounting.config.prices, this.route.model, tokens) / NANO_PER_USD;
  }

  /**
   * The exchange finished: settle with the provider's usage, or release when an error charged nothing.
   * `source`: 'estimated' — usage counted by the gateway (the provider sent none; never taught to the estimator);
   * 'unreadable' — the provider answered 2xx with a body the gateway could not read (it billed; the client got 502).
   */
  finish(
    usage: Usage | undefined,
    status: number,
    backend: string | undefined,
    source: 'reported' | 'estimated' | 'unreadable' = 'reported',
  ): void {
    // (the router stage counts both in llm_extproc_usage_missing_total, budgets or not)
    if (source === 'estimated' && usage) return this.#settle(usage, false);
    if (usage) return this.#settle(usage, backend === this.countedFor);
    // Without usage the provider still billed the prompt it read: charge the counted prompt.
    const promptOnly: Usage = {
      promptTokens: this.prompt.tokens,
      completionTokens: 0,
      totalTokens: this.prompt.tokens,
      cachedPromptTokens: 0,
      reasoningTokens: 0,
    };
    if (source === 'unreadable') return this.#settle(promptOnly, false);
    if (status >= 400) return this.#release();
    // A success without usage (a provider that does not report it): charge the counted prompt, and say so.
    metrics.usageMissing.inc();
    this.#settle(promptOnly, false);
  }

  /**
   * The stream ended before the exchange did (client gone, Envoy reset). Once a provider answered it bills for
   * what it produced, so settle with what is known; before that, nothing was charged.
   */
  abandon(responseStarted: boolean, usageSoFar: Usage | undefined): void {
    if (!responseStarted) return this.#release();
    this.#settle(
      usageSoFar ?? {
        promptTokens: this.prompt.tokens,
        completionTokens: 0,
        totalTokens: this.prompt.tokens,
        cachedPromptTokens: 0,
        reasoningTokens: 0,
      },
      false,
    );
  }

  /** `learn`: the usage is the provider's own report for the backend that was counted for. */
  #settle(usage: Usage, learn: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = learn ? this.accounting.estimator.learn(this.prompt, usage.promptTokens) : undefined;
    if (error !== undefined && this.prompt.family)
      metrics.promptEstimateError.set({ family: this.prompt.family }, error);
    // settle/release never throw; store failures reach the onStoreError hook.
    void this.accounting.budgets.settle(this.reservation, {
      promptTokens: usage.promptTokens,
      cachedPromptTokens: usage.cachedPromptTokens,
      completionTokens: usage.completionTokens,
    });
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.accounting.budgets.release(this.reservation);
  }
}
