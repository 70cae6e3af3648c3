// A whole generateContent response (or error) as a unified chat.completion (or OpenAI error).
import { toOpenAIUsage } from '../../unified/usage.js';
import { isRecord, parseJson, stringField } from '../../util/json.js';
import { normaliseErrorBody, type OpenAIErrorBody } from '../../unified/errors.js';
import { responseModel, type ResponseContext, type TranslatedBody } from '../provider.js';
import {
  completionId,
  finishReason,
  logprobsFromGemini,
  readParts,
  requestedChoices,
  usageFromGemini,
  type FinishReason,
  type OpenAILogprobs,
  type OpenAIToolCall,
} from './candidates.js';
import { mapGoogleError } from './errors.js';

interface Choice {
  index: number;
  message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: OpenAIToolCall[] };
  finish_reason: FinishReason;
  logprobs: OpenAILogprobs | null;
}

function choices(json: Record<string, unknown>, context: ResponseContext): Choice[] | undefined {
  const responseId = stringField(json, 'responseId');
  const candidates = Array.isArray(json.candidates) ? json.candidates.filter(isRecord) : [];
  if (candidates.length === 0) {
    // A blocked prompt has no candidates, only promptFeedback.blockReason: every requested choice was filtered.
    if (!isRecord(json.promptFeedback) || typeof json.promptFeedback.blockReason !== 'string') return undefined;
    return Array.from({ length: requestedChoices(context) }, (_, index) => ({
      index,
      message: { role: 'assistant', content: null, refusal: null },
      finish_reason: 'content_filter',
      logprobs: null,
    }));
  }
  return candidates.map((candidate, position) => {
    const index = typeof candidate.index === 'number' ? candidate.index : position;
    const content = isRecord(candidate.content) ? candidate.content : {};
    const { text, toolCalls } = readParts(content.parts, index, 0, responseId);
    const message: Choice['message'] = { role: 'assistant', content: text ?? null, refusal: null };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    const reason = finishReason(stringField(candidate, 'finishReason') ?? 'STOP', toolCalls.length > 0);
    return { index, message, finish_reason: reason, logprobs: logprobsFromGemini(candidate) };
  });
}

function errorBody(message: string): OpenAIErrorBody {
  return { error: { message, type: 'server_error', param: null, code: 'upstream_error' } };
}

function translateError(status: number, body: Buffer): TranslatedBody {
  const mapped = mapGoogleError(parseJson(body), status);
  if (!mapped) return { body: normaliseErrorBody(status, body), usage: undefined };
  return {
    body: Buffer.from(JSON.stringify(mapped.body)),
    usage: undefined,
    ...(mapped.status !== status ? { status: mapped.status } : {}),
    ...(mapped.retryAfter ? { headers: { 'retry-after': mapped.retryAfter } } : {}),
  };
}

export function translateResponse(status: number, body: Buffer, context: ResponseContext): TranslatedBody {
  if (status < 200 || status >= 300) return translateError(status, body);
  const json = parseJson(body);
  const mapped = isRecord(json) ? choices(json, context) : undefined;
  if (!isRecord(json) || !mapped) {
    const unified = errorBody('The Gemini backend returned a response without candidates or a block reason.');
    return { body: Buffer.from(JSON.stringify(unified)), usage: undefined, status: 502 };
  }
  const usage = usageFromGemini(json.usageMetadata);
  const completion = {
    id: completionId(stringField(json, 'responseId'), context),
    object: 'chat.completion',
    created: context.created,
    model: responseModel(context, json.modelVersion),
    choices: mapped.sort((a, b) => a.index - b.index),
    ...(usage ? { usage: toOpenAIUsage(usage) } : {}),
  };
  return { body: Buffer.from(JSON.stringify(completion)), usage };
}
