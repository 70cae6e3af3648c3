// Generation parameters: which OpenAI ones Anthropic can honour, how, and which get a 400 naming them.
import type { ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord } from '../../util/json.js';
import { topK } from '../extra-fields.js';
import type { AnthropicEffort, AnthropicRequest } from './wire.js';

/** The first API version without temperature/top_p/top_k (they are a 400 there, even at their defaults). */
export const SAMPLING_REMOVED_IN = '2026-10-21';

export type GenerationFields = Pick<
  AnthropicRequest,
  'max_tokens' | 'temperature' | 'top_p' | 'top_k' | 'stop_sequences' | 'metadata'
> & {
  effort?: AnthropicEffort;
};

function unsupported(param: string, what: string): never {
  throw new UnifiedError('invalid_request', `${what} is not supported by this model's provider (Anthropic).`, param);
}

/** OpenAI fields with no Anthropic counterpart whose absence would change the answer: refused when set. */
function refuseUnsupported(request: ChatRequest): void {
  if (request.n != null && request.n > 1) unsupported('n', 'n > 1 (several choices)');
  if (request.presence_penalty) unsupported('presence_penalty', 'presence_penalty');
  if (request.frequency_penalty) unsupported('frequency_penalty', 'frequency_penalty');
  if (request.logprobs === true) unsupported('logprobs', 'logprobs');
  if (typeof request.top_logprobs === 'number' && request.top_logprobs > 0) unsupported('top_logprobs', 'top_logprobs');
  if (isRecord(request.logit_bias) && Object.keys(request.logit_bias).length > 0)
    unsupported('logit_bias', 'logit_bias');
  if (request.audio != null || (Array.isArray(request.modalities) && request.modalities.includes('audio')))
    unsupported('modalities', 'Audio output');
  if (request.web_search_options != null) unsupported('web_search_options', 'web_search_options');
  if (request.functions != null || request.function_call != null) {
    unsupported(
      request.functions != null ? 'functions' : 'function_call',
      "The deprecated 'functions'/'function_call' (use tools and tool_choice)",
    );
  }
}

/**
 * Anthropic's temperature runs 0–1 (OpenAI's 0–2): above 1 is a 400, never a silent clamp. From API version
 * 2026-10-21 temperature and top_p are refused outright, so only their defaults (1) can be dropped safely.
 */
function sampling(request: ChatRequest, version: string): Pick<AnthropicRequest, 'temperature' | 'top_p' | 'top_k'> {
  const out: Pick<AnthropicRequest, 'temperature' | 'top_p' | 'top_k'> = {};
  // An explicit top_k (Anthropic has it; OpenAI does not) is passed on, except where the API version removed it.
  const k = topK(request);
  if (k !== undefined) {
    if (version >= SAMPLING_REMOVED_IN)
      throw new UnifiedError(
        'invalid_request',
        `top_k is not accepted by this model's provider (Anthropic API version ${version}); omit it.`,
        'top_k',
      );
    out.top_k = k;
  }
  const removed = version >= SAMPLING_REMOVED_IN; // ISO dates order as strings
  const { temperature, top_p: topP } = request;
  if (temperature != null) {
    if (removed) {
      if (temperature !== 1) {
        throw new UnifiedError(
          'invalid_request',
          `temperature is not accepted by this model's provider (Anthropic API version ${version}); omit it.`,
          'temperature',
        );
      }
    } else if (temperature > 1) {
      throw new UnifiedError(
        'invalid_request',
        `temperature must be between 0 and 1 for this model's provider (Anthropic); got ${temperature}.`,
        'temperature',
      );
    } else out.temperature = temperature;
  }
  if (topP != null) {
    if (removed) {
      if (topP !== 1)
        throw new UnifiedError(
          'invalid_request',
          `top_p is not accepted by this model's provider (Anthropic API version ${version}); omit it.`,
          'top_p',
        );
    } else out.top_p = topP;
  }
  return out;
}

const EFFORTS: Readonly<Record<string, AnthropicEffort | undefined>> = {
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'xhigh',
};

/** reasoning_effort → output_config.effort; `none` asks for no extra effort, which is Anthropic's default. */
function effort(request: ChatRequest): AnthropicEffort | undefined {
  const value = request.reasoning_effort;
  if (value == null || value === 'none') return undefined;
  const mapped = typeof value === 'string' ? EFFORTS[value] : undefined;
  if (!mapped)
    throw new UnifiedError(
      'invalid_request',
      `reasoning_effort '${typeof value === 'string' ? value : JSON.stringify(value)}' is not supported by this model's provider (Anthropic).`,
      'reasoning_effort',
    );
  return mapped;
}

/** safety_identifier is OpenAI's successor to `user`; either becomes Anthropic's opaque metadata.user_id. */
function userId(request: ChatRequest): string | undefined {
  const id = typeof request.safety_identifier === 'string' ? request.safety_identifier : request.user;
  return id ? id : undefined;
}

export function generationFields(
  request: ChatRequest,
  options: { anthropicVersion: string; defaultMaxTokens: number },
): GenerationFields {
  refuseUnsupported(request);
  const out: GenerationFields = {
    // max_completion_tokens supersedes the deprecated max_tokens; Anthropic requires a value.
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? options.defaultMaxTokens,
    ...sampling(request, options.anthropicVersion),
  };
  const stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
  // Anthropic rejects stop sequences with no visible character (a common "\n"): say so before the request leaves.
  if (stop?.some((s) => s.trim() === '')) {
    throw new UnifiedError(
      'invalid_request',
      'Anthropic does not accept stop sequences made only of whitespace.',
      'stop',
    );
  }
  if (stop && stop.length > 0) out.stop_sequences = stop;
  const user = userId(request);
  if (user) out.metadata = { user_id: user };
  const level = effort(request);
  if (level) out.effort = level;
  return out;
}
