// Anthropic stop_reason → OpenAI finish_reason, always within OpenAI's set.

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

const FINISH: ReadonlyMap<string, FinishReason> = new Map([
  ['end_turn', 'stop'],
  ['stop_sequence', 'stop'],
  // Only server tools pause a turn, and the gateway sends none; the text so far is a complete answer.
  ['pause_turn', 'stop'],
  ['max_tokens', 'length'],
  // The output was cut by the context window rather than max_tokens: the same thing for the client.
  ['model_context_window_exceeded', 'length'],
  ['refusal', 'content_filter'],
]);

/**
 * `tool_use` becomes tool_calls only when the client sees tool calls: the forced JSON-mode tool is an answer,
 * so it finishes with "stop". Unknown (future) values map to "stop" rather than leak outside OpenAI's set.
 */
export function finishReason(stopReason: string | undefined, clientToolCalls: number): FinishReason {
  if (stopReason === 'tool_use') return clientToolCalls > 0 ? 'tool_calls' : 'stop';
  return (stopReason !== undefined && FINISH.get(stopReason)) || 'stop';
}
