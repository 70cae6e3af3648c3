// Public surface of prompt token counting (docs/tokens.md).
export {
  countPromptTokens,
  countText,
  encodersLoaded,
  loadEncoders,
  TokenizerNotReadyError,
  type Approximation,
  type CountOptions,
  type PromptCount,
} from './counter.js';
export {
  ESTIMATE_FAMILIES,
  tokenizerForModel,
  type EstimateFamily,
  type ExactEncoding,
  type TokenizerChoice,
} from './encodings.js';
export {
  correctionFor,
  DEFAULT_CORRECTION_OPTIONS,
  estimateTokens,
  INITIAL_CORRECTIONS,
  observe,
  type CorrectionOptions,
  type CorrectionState,
  type FamilyCorrection,
} from './estimate.js';
export { LONG_RUN_CHARS } from './long-runs.js';
export { describeCount, tokensCommand, TOKENS_USAGE } from './command.js';
