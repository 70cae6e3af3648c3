// Reading Gemini candidates, finish reasons and usage: the pieces whole responses and streams share.
import { tokenCount, type Usage } from '../../unified/usage.js';
import { isRecord, stringField } from '../../util/json.js';
import type { ResponseContext } from '../provider.js';
import { toolCallId } from './tool-ids.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * Gemini finishReason → OpenAI finish_reason. Every safety-like stop is content_filter; CONTINUATION (output
 * paused, resumable) is length, the truncation OpenAI clients know; failed tool calls and anything unknown are
 * stop, since no valid call or further text exists to report.
 */
const FINISH_REASONS = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  CONTINUATION: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  LANGUAGE: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
  IMAGE_OTHER: 'content_filter',
  MALFORMED_FUNCTION_CALL: 'stop',
  UNEXPECTED_TOOL_CALL: 'stop',
  TOO_MANY_TOOL_CALLS: 'stop',
  NO_IMAGE: 'stop',
  OTHER: 'stop',
  FINISH_REASON_UNSPECIFIED: 'stop',
} as const satisfies Record<string, FinishReason>;

/** The Gemini values mapped explicitly; sdk-types.test.ts checks this covers the SDK's FinishReason enum. */
export type KnownGeminiFinishReason = keyof typeof FINISH_REASONS;

function isKnown(reason: string): reason is KnownGeminiFinishReason {
  return Object.hasOwn(FINISH_REASONS, reason);
}

/** Gemini says STOP after function calls too; OpenAI clients look for tool_calls to run them. */
export function finishReason(reason: string, hasToolCalls: boolean): FinishReason {
  const mapped: FinishReason = isKnown(reason) ? FINISH_REASONS[reason] : 'stop';
  return mapped === 'stop' && hasToolCalls && reason === 'STOP' ? 'tool_calls' : mapped;
}

/** Candidate content: visible text (thought summaries excluded) and function calls. */
export interface CandidateOutput {
  text: string | undefined;
  toolCalls: OpenAIToolCall[];
}

/**
 * Reads one candidate's parts. `ordinal` is the number of calls this candidate already produced (streams), so
 * ids and tool-call indexes keep counting across events.
 */
export function readParts(
  parts: unknown,
  candidate: number,
  ordinal: number,
  responseId: string | undefined,
): CandidateOutput {
  let text: string | undefined;
  const toolCalls: OpenAIToolCall[] = [];
  for (const part of Array.isArray(parts) ? parts : []) {
    if (!isRecord(part) || part.thought === true) continue;
    if (typeof part.text === 'string') text = (text ?? '') + part.text;
    const call = part.functionCall;
    if (isRecord(call) && typeof call.name === 'string') {
      const id = toolCallId({
        providerId: stringField(call, 'id'),
        responseId,
        candidate,
        ordinal: ordinal + toolCalls.length,
        signature: stringField(part, 'thoughtSignature'),
      });
      toolCalls.push({
        id,
        type: 'function',
        function: { name: call.name, arguments: JSON.stringify(isRecord(call.args) ? call.args : {}) },
      });
    }
  }
  return { text, toolCalls };
}

/**
 * OpenAI meaning: prompt_tokens includes cached tokens (Gemini's promptTokenCount already does) and the prompt
 * tool-use tokens; completion_tokens includes reasoning (Gemini counts thoughts apart from candidates).
 */
export function usageFromGemini(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined;
  const promptTokens = tokenCount(value.promptTokenCount) + tokenCount(value.toolUsePromptTokenCount);
  const reasoningTokens = tokenCount(value.thoughtsTokenCount);
  const completionTokens = tokenCount(value.candidatesTokenCount) + reasoningTokens;
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedPromptTokens: tokenCount(value.cachedContentTokenCount),
    reasoningTokens,
  };
}

export function completionId(responseId: string | undefined, context: ResponseContext): string {
  return `chatcmpl-${responseId ?? context.requestId ?? `gemini-${context.created}`}`;
}

/** How many choices a blocked prompt answers with: one per requested candidate. */
export function requestedChoices(context: ResponseContext): number {
  return context.request.n ?? 1;
}

/** OpenAI's logprobs of one choice (or one chunk of it). */
export interface OpenAILogprobs {
  content: Array<{
    token: string;
    logprob: number;
    bytes: number[];
    top_logprobs: Array<{ token: string; logprob: number; bytes: number[] }>;
  }>;
  refusal: null;
}

function tokenEntry(value: unknown): { token: string; logprob: number; bytes: number[] } | undefined {
  if (!isRecord(value) || typeof value.token !== 'string') return undefined;
  const logprob = typeof value.logProbability === 'number' ? value.logProbability : 0;
  return { token: value.token, logprob, bytes: [...Buffer.from(value.token, 'utf8')] };
}

/**
 * candidate.logprobsResult → OpenAI logprobs: chosenCandidates[i] is the i-th sampled token, topCandidates[i]
 * its alternatives (present when the request asked for `logprobs` N, i.e. OpenAI's top_logprobs). Null without.
 */
export function logprobsFromGemini(candidate: Record<string, unknown>): OpenAILogprobs | null {
  const result = candidate.logprobsResult;
  if (!isRecord(result) || !Array.isArray(result.chosenCandidates)) return null;
  const top = Array.isArray(result.topCandidates) ? result.topCandidates : [];
  const content: OpenAILogprobs['content'] = [];
  result.chosenCandidates.forEach((chosen, i) => {
    const entry = tokenEntry(chosen);
    if (!entry) return;
    const alternatives = isRecord(top[i]) && Array.isArray(top[i].candidates) ? top[i].candidates : [];
    content.push({ ...entry, top_logprobs: alternatives.flatMap((c: unknown) => tokenEntry(c) ?? []) });
  });
  return { content, refusal: null };
}
