// The process's prompt counter: exact where a public tokenizer exists, otherwise an estimate whose per-family
// correction learns from provider-reported usage. The one piece of mutable state of token counting.
import type { ChatRequest } from '../unified/chat-request.js';
import { countPromptTokens, type PromptCount } from './counter.js';
import { INITIAL_CORRECTIONS, observe, type CorrectionState } from './estimate.js';

export class PromptEstimator {
  #corrections: CorrectionState = INITIAL_CORRECTIONS;

  count(request: ChatRequest, model: string): PromptCount {
    return countPromptTokens(request, { model, corrections: this.#corrections });
  }

  /** Feeds the provider's prompt count back; returns the relative error of the estimate, for estimates only. */
  learn(count: PromptCount, actualPromptTokens: number): number | undefined {
    if (count.kind !== 'estimate' || !count.family || actualPromptTokens <= 0) return undefined;
    const relativeError = (count.tokens - actualPromptTokens) / actualPromptTokens;
    this.#corrections = observe(this.#corrections, count.family, count.baseTokens, actualPromptTokens);
    return relativeError;
  }
}
