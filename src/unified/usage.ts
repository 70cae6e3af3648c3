// Token usage in OpenAI's meaning: prompt_tokens includes cached tokens, completion_tokens includes reasoning.
import { isRecord, recordField } from '../util/json.js';

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  readonly cachedPromptTokens: number;
  readonly reasoningTokens: number;
}

/** A token count a provider reported: a non-negative finite number, else 0 (missing, null or garbage). */
export function tokenCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Reads an OpenAI `usage` object; undefined when the value is not one. */
export function usageFromOpenAI(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined;
  const promptTokens = tokenCount(value.prompt_tokens);
  const completionTokens = tokenCount(value.completion_tokens);
  return {
    promptTokens,
    completionTokens,
    totalTokens: tokenCount(value.total_tokens) || promptTokens + completionTokens,
    cachedPromptTokens: tokenCount(recordField(value, 'prompt_tokens_details')?.cached_tokens),
    reasoningTokens: tokenCount(recordField(value, 'completion_tokens_details')?.reasoning_tokens),
  };
}

/** The OpenAI `usage` object translated providers send (whole responses and the final stream chunk). */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

/** Writes a Usage as OpenAI's `usage` object; every translating provider reports the same fields in this order. */
export function toOpenAIUsage(usage: Usage): OpenAIUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}
