// Anthropic usage → OpenAI usage. Anthropic's input_tokens EXCLUDES cached tokens ("total input tokens is the sum
// of input_tokens, cache_creation_input_tokens and cache_read_input_tokens"); OpenAI's prompt_tokens includes
// them. So prompt = input + cache_read + cache_creation, cached_tokens = cache_read (tokens served from the
// cache; writes are billed above the base rate, not discounted), reasoning = output_tokens_details.thinking_tokens.
import type { Usage } from '../../unified/usage.js';
import { recordField } from '../../util/json.js';
import { countField, type JsonObject } from './guards.js';

/** The counts as Anthropic reports them; streams update them field by field (message_delta is cumulative). */
export interface AnthropicCounts {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheCreation: number;
  readonly thinking: number;
}

export const ZERO_COUNTS: AnthropicCounts = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0, thinking: 0 };

/** Applies the fields a usage object reports (null or absent ones keep their previous value). */
export function mergeCounts(previous: AnthropicCounts, usage: JsonObject | undefined): AnthropicCounts {
  if (!usage) return previous;
  return {
    input: countField(usage, 'input_tokens') ?? previous.input,
    output: countField(usage, 'output_tokens') ?? previous.output,
    cacheRead: countField(usage, 'cache_read_input_tokens') ?? previous.cacheRead,
    cacheCreation: countField(usage, 'cache_creation_input_tokens') ?? previous.cacheCreation,
    thinking: countField(recordField(usage, 'output_tokens_details'), 'thinking_tokens') ?? previous.thinking,
  };
}

export function toUsage(counts: AnthropicCounts): Usage {
  const promptTokens = counts.input + counts.cacheRead + counts.cacheCreation;
  return {
    promptTokens,
    completionTokens: counts.output,
    totalTokens: promptTokens + counts.output,
    cachedPromptTokens: counts.cacheRead,
    reasoningTokens: counts.thinking,
  };
}
