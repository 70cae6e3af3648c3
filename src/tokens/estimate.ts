// Estimates for models without a public tokenizer (Claude, Gemini, Mistral, Llama, Command, …).
//
// Method: count the prompt exactly as if it were sent to gpt-4o (o200k_base text, the cookbook's chat and tool
// overheads; counter.ts does this and reports it as `baseTokens`), then multiply by a per-family correction factor
// learned from the usage the provider reports: factor ← factor + α·(actual/base − factor), an exponentially
// weighted moving average whose first observations are plain means (α_n = max(α, 1/n)) so one answer is enough to
// get off the neutral prior. Each ratio and the factor are clamped to [0.5, 2], so one odd response (a cached
// prompt, a huge hidden system prompt) cannot drag the estimate far. The prior is 1.0 for every family: we have no
// measured ratios to ship, and the first provider answer replaces it.
//
// Pure state in, state out: the caller owns a CorrectionState (e.g. one per process, or per backend) and replaces
// it with what observe() returns.
import type { EstimateFamily } from './encodings.js';

export interface FamilyCorrection {
  /** Multiplier applied to the o200k-based count. */
  readonly factor: number;
  /** Observations folded in so far. */
  readonly samples: number;
  /** (predicted − actual) / actual of the latest observation, predicted with the factor in force at the time;
   * positive means we over-estimated. Null before the first observation. Export it as a gauge. */
  readonly lastRelativeError: number | null;
}

export type CorrectionState = Readonly<Partial<Record<EstimateFamily, FamilyCorrection>>>;

export interface CorrectionOptions {
  /** EWMA weight of a new observation once past the first 1/α samples. */
  readonly alpha: number;
  readonly minFactor: number;
  readonly maxFactor: number;
  /** Observations whose base count is below this are ignored: tiny prompts give noisy ratios. */
  readonly minBaseTokens: number;
}

export const DEFAULT_CORRECTION_OPTIONS: CorrectionOptions = {
  alpha: 0.1,
  minFactor: 0.5,
  maxFactor: 2,
  minBaseTokens: 16,
};

export const INITIAL_CORRECTIONS: CorrectionState = {};

const NEUTRAL: FamilyCorrection = { factor: 1, samples: 0, lastRelativeError: null };

export function correctionFor(state: CorrectionState, family: EstimateFamily): FamilyCorrection {
  return state[family] ?? NEUTRAL;
}

/** The estimate for a base (o200k-based) count: ceil(base × factor). */
export function estimateTokens(state: CorrectionState, family: EstimateFamily, baseTokens: number): number {
  return Math.ceil(baseTokens * correctionFor(state, family).factor);
}

/**
 * Folds one provider-reported prompt token count into the family's factor. `baseTokens` is the uncorrected count
 * (PromptCount.baseTokens), `actualTokens` the provider's prompt/input tokens in OpenAI's meaning (cached tokens
 * included; for Anthropic that is input + cache_creation + cache_read). Returns the same state object when the
 * observation is ignored (non-positive or too small numbers).
 */
export function observe(
  state: CorrectionState,
  family: EstimateFamily,
  baseTokens: number,
  actualTokens: number,
  options: CorrectionOptions = DEFAULT_CORRECTION_OPTIONS,
): CorrectionState {
  if (!(baseTokens >= options.minBaseTokens) || !(actualTokens > 0) || !Number.isFinite(baseTokens + actualTokens))
    return state;
  const current = correctionFor(state, family);
  const predicted = baseTokens * current.factor;
  const ratio = clamp(actualTokens / baseTokens, options.minFactor, options.maxFactor);
  const samples = current.samples + 1;
  const weight = Math.max(options.alpha, 1 / samples);
  const factor = clamp(current.factor + weight * (ratio - current.factor), options.minFactor, options.maxFactor);
  return { ...state, [family]: { factor, samples, lastRelativeError: (predicted - actualTokens) / actualTokens } };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
