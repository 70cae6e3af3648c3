// A whole Anthropic Message → an OpenAI chat.completion.
//
// text blocks → message.content (joined); tool_use → tool_calls (arguments = JSON of input); the JSON-mode tool's
// input → message.content; thinking and redacted_thinking blocks are not shown (Chat Completions has no place for
// them) but their tokens are counted as reasoning tokens.
import { UnifiedError } from '../../unified/errors.js';
import { toOpenAIUsage, type OpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson, recordField, stringField } from '../../util/json.js';
import { responseModel, type ResponseContext, type TranslatedBody } from '../provider.js';
import { translateErrorResponse } from './errors.js';
import { finishReason, type FinishReason } from './finish.js';
import type { JsonObject } from './guards.js';
import { JSON_TOOL_NAME, usesJsonTool } from './tools.js';
import { mergeCounts, toUsage, ZERO_COUNTS } from './usage.js';

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: 0;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: OpenAIToolCall[] };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: OpenAIUsage;
}

/** Chunk and completion ids: the provider's message id, so logs on both sides can be matched. */
export function completionId(messageId: string | undefined, context: ResponseContext): string {
  return `chatcmpl-${messageId ?? context.requestId ?? 'anthropic'}`;
}

/** Tool input as OpenAI's `arguments` string; a missing input is an empty object. */
function argumentsOf(block: JsonObject): string {
  return JSON.stringify(isRecord(block.input) ? block.input : {});
}

export function toChatCompletion(message: JsonObject, usage: Usage, context: ResponseContext): ChatCompletion {
  const jsonMode = usesJsonTool(context.request);
  const texts: string[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  let jsonAnswer: string | undefined;
  for (const block of Array.isArray(message.content) ? message.content : []) {
    if (!isRecord(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'tool_use') {
      const name = stringField(block, 'name') ?? '';
      if (jsonMode && name === JSON_TOOL_NAME) jsonAnswer = argumentsOf(block);
      else
        toolCalls.push({
          id: stringField(block, 'id') ?? '',
          type: 'function',
          function: { name, arguments: argumentsOf(block) },
        });
    }
  }
  // In JSON mode the answer is the forced tool's input; any text is not JSON and is left out.
  const text = jsonMode ? (jsonAnswer ?? '') : texts.join('');
  const choiceMessage: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
    refusal: null,
  };
  if (toolCalls.length > 0) choiceMessage.tool_calls = toolCalls;
  return {
    id: completionId(stringField(message, 'id'), context),
    object: 'chat.completion',
    created: context.created,
    model: responseModel(context, message.model),
    choices: [
      {
        index: 0,
        message: choiceMessage,
        logprobs: null,
        finish_reason: finishReason(stringField(message, 'stop_reason'), toolCalls.length),
      },
    ],
    usage: toOpenAIUsage(usage),
  };
}

export function translateWholeResponse(status: number, body: Buffer, context: ResponseContext): TranslatedBody {
  if (status < 200 || status >= 300) return translateErrorResponse(status, body);
  const json = parseJson(body);
  if (!isRecord(json) || json.type !== 'message') {
    const error = new UnifiedError('upstream_error', 'Anthropic returned a response the gateway could not read.');
    return {
      body: Buffer.from(JSON.stringify(error.toBody(context.requestId))),
      usage: undefined,
      status: error.status,
    };
  }
  const usage = toUsage(mergeCounts(ZERO_COUNTS, recordField(json, 'usage')));
  const completion = toChatCompletion(json, usage, context);
  return { body: Buffer.from(JSON.stringify(completion)), usage };
}
