// The OpenAI request: the client's unified request with the backend's model, tool-call ids OpenAI accepts, and
// usage always requested on streams.
import type { ChatRequest } from '../../unified/chat-request.js';
import { OPENAI_TOOL_IDS, rewriteToolCallIds } from '../tool-ids.js';

/** The outbound body every OpenAI-shaped backend starts from: the client's request with the backend's model. */
export function openAIRequestBody(request: ChatRequest, upstreamModel: string): Record<string, unknown> {
  // Ids from another provider (a failover mid-conversation) may be longer than OpenAI's 40 characters.
  const outbound: Record<string, unknown> = {
    ...request,
    model: upstreamModel,
    messages: rewriteToolCallIds(request.messages, OPENAI_TOOL_IDS),
  };
  // Always ask for usage when streaming: budgets and metrics need it. The router stage removes the extra
  // usage chunk again when the client did not ask for it.
  if (request.stream === true) outbound.stream_options = { ...request.stream_options, include_usage: true };
  return outbound;
}
