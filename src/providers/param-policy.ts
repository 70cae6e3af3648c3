// Strict by default, lenient on request: a backend (or route) with `unsupportedParams: drop` has the request
// fields it cannot honour left out instead of answering 400 — LiteLLM's drop_params, but only for fields whose
// absence keeps the answer's shape (sampling hints, log probabilities, penalties). Fields that would change what
// the client gets back (n > 1, tools, response_format, audio output…) are still refused.
import type { ResolvedBackend } from '../config/topology.js';
import type { ChatRequest } from '../unified/chat-request.js';
import { UnifiedError } from '../unified/errors.js';
import type { Provider } from './provider.js';

export type UnsupportedParams = 'reject' | 'drop';

/** Request fields a lenient backend may leave out: hints whose absence changes sampling, never the answer's shape. */
export const DROPPABLE_PARAMS: ReadonlySet<string> = new Set([
  'logprobs',
  'top_logprobs',
  'logit_bias',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'top_k',
  'reasoning_effort',
  'parallel_tool_calls',
  'web_search_options',
  'prediction',
]);

export interface PolicyOutcome {
  readonly request: ChatRequest;
  /** Fields left out, in the order they were found. */
  readonly dropped: readonly string[];
}

/**
 * Runs the provider's check; under `drop`, each refusal that names a droppable top-level field removes that field
 * and checks again. Anything else (or any refusal under `reject`) is thrown as the provider threw it.
 */
export function applyParamPolicy(
  provider: Provider,
  request: ChatRequest,
  backend: ResolvedBackend,
  upstreamModel: string | undefined,
  policy: UnsupportedParams,
): PolicyOutcome {
  let current = request;
  const dropped: string[] = [];
  for (;;) {
    try {
      provider.checkRequest(current, backend, upstreamModel);
      return { request: current, dropped };
    } catch (err) {
      const param = err instanceof UnifiedError && err.status === 400 ? err.param : null;
      if (policy !== 'drop' || param === null || !DROPPABLE_PARAMS.has(param) || !Object.hasOwn(current, param))
        throw err;
      const copy: Record<string, unknown> = { ...current };
      delete copy[param];
      current = copy as ChatRequest;
      dropped.push(param);
    }
  }
}
