// Cohere v2 Chat response → unified (OpenAI) response: whole bodies, finish reasons and usage (errors: errors.ts). The stream
// translator (stream.ts) reuses the same mappings so streamed and whole answers agree.
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { tokenCount, toOpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson, recordField, stringField } from '../../util/json.js';
import { responseModel, type ResponseContext, type TranslatedBody } from '../provider.js';
import { failureBody, translateCohereError, type FailedGeneration } from './errors.js';

export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls';

/**
 * COMPLETE and STOP_SEQUENCE are normal stops, MAX_TOKENS a truncation, TOOL_CALL a tool turn. ERROR and TIMEOUT
 * mean the generation failed, which OpenAI's set cannot express: they become a 502/504 error (in-stream: an error
 * event). Unknown future values read as `stop`, or `tool_calls` when the message carries tool calls.
 */
export function mapFinishReason(
  reason: string | undefined,
  hasToolCalls: boolean,
): OpenAIFinishReason | FailedGeneration {
  switch (reason) {
    case 'COMPLETE':
    case 'STOP_SEQUENCE':
      return 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    case 'ERROR':
      return {
        status: 502,
        code: 'upstream_error',
        message: 'Cohere reported an error while generating (finish_reason ERROR).',
      };
    case 'TIMEOUT':
      return {
        status: 504,
        code: 'upstream_timeout',
        message: 'Cohere timed out while generating (finish_reason TIMEOUT).',
      };
    default:
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

/**
 * `usage.tokens` are the model's real token counts (input includes cached tokens, as OpenAI's prompt_tokens does);
 * `billed_units` exclude Cohere's own prompt scaffolding and are only a fallback. Cohere reports no reasoning count.
 */
export function usageFromCohere(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined;
  const tokens = recordField(value, 'tokens') ?? recordField(value, 'billed_units');
  if (!tokens) return undefined;
  const promptTokens = tokenCount(tokens.input_tokens);
  const completionTokens = tokenCount(tokens.output_tokens);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: Math.min(tokenCount(value.cached_tokens), promptTokens),
    reasoningTokens: 0,
  };
}

/** Cohere sends "null" (or nothing) as the arguments of a tool without parameters; OpenAI clients expect an object. */
export function normaliseArguments(args: string | undefined): string {
  const trimmed = (args ?? '').trim();
  return trimmed === '' || trimmed === 'null' ? '{}' : (args ?? '{}');
}

interface UnifiedToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

function toolCallsOf(message: Record<string, unknown> | undefined): UnifiedToolCall[] {
  const calls = message?.tool_calls;
  if (!Array.isArray(calls)) return [];
  return calls.flatMap((call): UnifiedToolCall[] => {
    if (!isRecord(call)) return [];
    const fn = recordField(call, 'function');
    const name = stringField(fn, 'name');
    if (name === undefined) return [];
    return [
      {
        id: stringField(call, 'id') ?? '',
        type: 'function',
        function: { name, arguments: normaliseArguments(stringField(fn, 'arguments')) },
      },
    ];
  });
}

/** Text of the answer: the tool plan first (Cohere's "what I will do" next to tool calls), then text blocks. */
function contentOf(message: Record<string, unknown> | undefined): string {
  let out = stringField(message, 'tool_plan') ?? '';
  const content = message?.content;
  if (typeof content === 'string') return out + content;
  if (Array.isArray(content)) {
    // Thinking blocks are left out: OpenAI's Chat Completions has no place for reasoning text.
    for (const block of content) if (isRecord(block) && block.type === 'text') out += stringField(block, 'text') ?? '';
  }
  return out;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function translateSuccess(body: Buffer, context: ResponseContext): TranslatedBody {
  const parsed = parseJson(body);
  if (!isRecord(parsed)) {
    const error: OpenAIErrorBody = {
      error: {
        message: 'Cohere returned a body that is not JSON.',
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    };
    return { body: json(error), usage: undefined, status: 502 };
  }
  const usage = usageFromCohere(parsed.usage);
  const message = recordField(parsed, 'message');
  const toolCalls = toolCallsOf(message);
  const finish = mapFinishReason(stringField(parsed, 'finish_reason'), toolCalls.length > 0);
  if (typeof finish !== 'string') return { body: json(failureBody(finish)), usage, status: finish.status };
  const content = contentOf(message);
  const unifiedMessage: Record<string, unknown> = {
    role: 'assistant',
    content: content === '' && toolCalls.length > 0 ? null : content,
    refusal: null,
  };
  if (toolCalls.length > 0) unifiedMessage.tool_calls = toolCalls;
  const unified: Record<string, unknown> = {
    id: stringField(parsed, 'id') ?? `chatcmpl-${context.requestId ?? 'cohere'}`,
    object: 'chat.completion',
    created: context.created,
    model: responseModel(context),
    choices: [{ index: 0, message: unifiedMessage, finish_reason: finish, logprobs: null }],
  };
  if (usage) unified.usage = toOpenAIUsage(usage);
  return { body: json(unified), usage };
}

export function translateCohereResponse(status: number, body: Buffer, context: ResponseContext): TranslatedBody {
  return status >= 200 && status < 300 ? translateSuccess(body, context) : translateCohereError(status, body);
}
