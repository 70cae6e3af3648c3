// Extra request fields outside OpenAI's schema that clients send on purpose for providers that have them.
import type { ChatRequest } from '../unified/chat-request.js';
import { UnifiedError } from '../unified/errors.js';

/**
 * An explicit `top_k` (Anthropic, Gemini, Claude on Bedrock): a positive integer, or undefined when absent.
 * Providers without top-k refuse it (or drop it under unsupportedParams: drop).
 */
export function topK(request: ChatRequest): number | undefined {
  const value: unknown = request.top_k;
  if (value == null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new UnifiedError('invalid_request', "'top_k' must be a positive integer.", 'top_k');
  }
  return value;
}
