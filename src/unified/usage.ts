// Token usage in OpenAI's meaning: prompt_tokens includes cached tokens, completion_tokens includes reasoning.
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  readonly cachedPromptTokens: number;
  readonly reasoningTokens: number;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Reads an OpenAI `usage` object; undefined when the value is not one. */
export function usageFromOpenAI(value: unknown): Usage | undefined {
  const usage = record(value);
  if (!usage) return undefined;
  const promptTokens = count(usage.prompt_tokens);
  const completionTokens = count(usage.completion_tokens);
  return {
    promptTokens,
    completionTokens,
    totalTokens: count(usage.total_tokens) || promptTokens + completionTokens,
    cachedPromptTokens: count(record(usage.prompt_tokens_details)?.cached_tokens),
    reasoningTokens: count(record(usage.completion_tokens_details)?.reasoning_tokens),
  };
}
