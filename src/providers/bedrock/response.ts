// Bedrock Converse response → unified chat.completion, plus the mappings the stream translator shares
// (stop reason → finish_reason, Bedrock usage → OpenAI usage). Pure.
import { randomUUID } from 'node:crypto';
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { tokenCount, toOpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson } from '../../util/json.js';
import { responseModel, type ResponseContext, type TranslatedBody } from '../provider.js';
import { mapHttpError, streamFailure } from './errors.js';
import { JSON_TOOL_NAME, usesJsonTool } from './request.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export type Outcome = { readonly finish: FinishReason } | { readonly error: OpenAIErrorBody };

/**
 * Converse stopReason → OpenAI finish_reason. The malformed_* reasons mean the model's output could not be
 * parsed (for tool use: the call is missing or broken), so the answer is reported as an error rather than as a
 * normal stop the client would trust.
 */
export function outcomeFor(stopReason: unknown, jsonMode: boolean): Outcome {
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
      return { finish: 'stop' };
    case 'tool_use':
      // In JSON mode the forced tool call *is* the answer.
      return { finish: jsonMode ? 'stop' : 'tool_calls' };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { finish: 'length' };
    case 'guardrail_intervened':
    case 'content_filtered':
      return { finish: 'content_filter' };
    case 'malformed_model_output':
    case 'malformed_tool_use':
      return {
        error: streamFailure(
          `Bedrock stopped with ${stopReason}: the model produced output that could not be parsed.`,
          stopReason,
        ),
      };
    default:
      // Absent or a reason newer than this code: the model stopped on its own.
      return { finish: 'stop' };
  }
}

/**
 * Bedrock's inputTokens excludes prompt-cache reads and writes (as Anthropic's input_tokens does); OpenAI's
 * prompt_tokens includes cached tokens, so all three are added. Bedrock does not split out reasoning tokens;
 * they are part of outputTokens, which is what completion_tokens means anyway.
 */
export function usageFromBedrock(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined;
  const cacheRead = tokenCount(value.cacheReadInputTokens);
  const promptTokens = tokenCount(value.inputTokens) + cacheRead + tokenCount(value.cacheWriteInputTokens);
  const completionTokens = tokenCount(value.outputTokens);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: cacheRead,
    reasoningTokens: 0,
  };
}

/** Converse responses carry no id; the request id ties the completion to the gateway's logs. */
export function completionId(context: ResponseContext): string {
  return `chatcmpl-${context.requestId ?? randomUUID()}`;
}

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface Answer {
  content: string | null;
  toolCalls: ToolCall[];
}

/** Text blocks join into content; toolUse blocks become tool_calls (or, in JSON mode, the content). */
function answerOf(blocks: readonly unknown[], jsonMode: boolean): Answer {
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  let json: string | undefined;
  for (const block of blocks) {
    if (!isRecord(block)) continue;
    if (typeof block.text === 'string') texts.push(block.text);
    const use = block.toolUse;
    if (isRecord(use) && typeof use.name === 'string') {
      const args = JSON.stringify(use.input ?? {});
      if (jsonMode && use.name === JSON_TOOL_NAME) json = args;
      else
        toolCalls.push({
          id: typeof use.toolUseId === 'string' ? use.toolUseId : `call_${toolCalls.length}`,
          type: 'function',
          function: { name: use.name, arguments: args },
        });
    }
    // reasoningContent, citationsContent and other blocks have no Chat Completions equivalent: dropped.
  }
  // JSON mode: the tool input is the answer and any text around it would make it invalid JSON.
  if (json !== undefined) return { content: json, toolCalls };
  const text = texts.join('');
  return { content: text === '' && toolCalls.length > 0 ? null : text, toolCalls };
}

function unreadable(): TranslatedBody {
  return {
    body: Buffer.from(
      JSON.stringify(streamFailure('Bedrock returned a response the gateway could not read.', 'unreadable_response')),
    ),
    usage: undefined,
    status: 502,
  };
}

export function translateConverse(body: Buffer, context: ResponseContext): TranslatedBody {
  const json = parseJson(body);
  if (
    !isRecord(json) ||
    !isRecord(json.output) ||
    !isRecord(json.output.message) ||
    !Array.isArray(json.output.message.content)
  ) {
    return unreadable();
  }
  const jsonMode = usesJsonTool(context.request);
  const usage = usageFromBedrock(json.usage);
  const outcome = outcomeFor(json.stopReason, jsonMode);
  if ('error' in outcome) return { body: Buffer.from(JSON.stringify(outcome.error)), usage, status: 502 };

  const answer = answerOf(json.output.message.content, jsonMode);
  const message: Record<string, unknown> = { role: 'assistant', content: answer.content, refusal: null };
  if (answer.toolCalls.length > 0) message.tool_calls = answer.toolCalls;
  const completion: Record<string, unknown> = {
    id: completionId(context),
    object: 'chat.completion',
    created: context.created,
    model: responseModel(context),
    choices: [{ index: 0, message, finish_reason: outcome.finish, logprobs: null }],
  };
  if (usage) completion.usage = toOpenAIUsage(usage);
  return { body: Buffer.from(JSON.stringify(completion)), usage };
}

export function translateResponse(status: number, body: Buffer, context: ResponseContext): TranslatedBody {
  if (status >= 200 && status < 300) return translateConverse(body, context);
  const mapped = mapHttpError(status, body);
  return {
    body: Buffer.from(JSON.stringify(mapped.body)),
    usage: undefined,
    ...(mapped.status !== status ? { status: mapped.status } : {}),
  };
}
