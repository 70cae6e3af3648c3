// Our declarations of Cohere's v2 wire format (snake_case), written from the field names and types the official
// TypeScript SDK's serialization schemas define — facts, not its code — for compile-time checks, because the SDK
// is not a dependency here. Source: cohere-ai/cohere-typescript @7c29ae7 (2026-08-18),
// src/serialization/resources/v2/client/requests/V2ChatRequest.ts, …/v2/types/V2ChatResponse.ts,
// …/v2/types/V2ChatStreamResponse.ts and the src/serialization/types/* they reference. Optional fields are
// `T | null | undefined` there, as here. Only types: nothing at runtime depends on this file.

export interface ChatTextContentRaw {
  type: 'text';
  text: string;
}
export interface ImageContentRaw {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' | null };
}
export interface ToolCallV2Raw {
  id: string;
  type: 'function';
  function?: { name?: string | null; arguments?: string | null } | null;
}
export interface ChatThinkingContentRaw {
  type: 'thinking';
  thinking: string;
}
export interface DocumentContentRaw {
  type: 'document';
  document: { data: Record<string, unknown>; id?: string | null };
}

export type ChatMessageV2Raw =
  | { role: 'user'; content: string | Array<ChatTextContentRaw | ImageContentRaw> }
  | {
      role: 'assistant';
      tool_calls?: ToolCallV2Raw[] | null;
      tool_plan?: string | null;
      content?: string | Array<ChatTextContentRaw | ChatThinkingContentRaw> | null;
      citations?: unknown[] | null;
    }
  | { role: 'system'; content: string | ChatTextContentRaw[] }
  | { role: 'tool'; tool_call_id: string; content: string | Array<ChatTextContentRaw | DocumentContentRaw> };

export interface ToolV2Raw {
  type: 'function';
  function?: { name: string; description?: string | null; parameters: Record<string, unknown> } | null;
}

export type ResponseFormatV2Raw =
  { type: 'text' } | { type: 'json_object'; json_schema?: Record<string, unknown> | null };

export interface V2ChatRequestRaw {
  model: string;
  messages: ChatMessageV2Raw[];
  /** Set by the SDK's chatStream (V2ChatStreamRequest) rather than by the caller. */
  stream?: boolean;
  tools?: ToolV2Raw[] | null;
  strict_tools?: boolean | null;
  documents?: Array<string | Record<string, unknown>> | null;
  citation_options?: { mode?: 'ENABLED' | 'DISABLED' | 'FAST' | 'ACCURATE' | 'OFF' | null } | null;
  response_format?: ResponseFormatV2Raw | null;
  safety_mode?: 'CONTEXTUAL' | 'STRICT' | 'OFF' | null;
  max_tokens?: number | null;
  stop_sequences?: string[] | null;
  temperature?: number | null;
  seed?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  k?: number | null;
  p?: number | null;
  logprobs?: boolean | null;
  tool_choice?: 'REQUIRED' | 'NONE' | null;
  thinking?: { type: 'enabled' | 'disabled'; token_budget?: number | null } | null;
  priority?: number | null;
}

export type ChatFinishReasonRaw = 'COMPLETE' | 'STOP_SEQUENCE' | 'MAX_TOKENS' | 'TOOL_CALL' | 'ERROR' | 'TIMEOUT';

export interface UsageRaw {
  billed_units?: {
    input_tokens?: number | null;
    output_tokens?: number | null;
    search_units?: number | null;
    classifications?: number | null;
  } | null;
  tokens?: { input_tokens?: number | null; output_tokens?: number | null } | null;
  cached_tokens?: number | null;
}

export interface V2ChatResponseRaw {
  id: string;
  finish_reason: ChatFinishReasonRaw;
  message: {
    role: 'assistant';
    tool_calls?: ToolCallV2Raw[] | null;
    tool_plan?: string | null;
    content?: Array<ChatTextContentRaw | ChatThinkingContentRaw> | null;
    citations?: unknown[] | null;
  };
  usage?: UsageRaw | null;
  logprobs?: unknown[] | null;
}

type Delta<T> = { delta?: { message?: T | null } | null };

export type V2ChatStreamResponseRaw =
  | ({ type: 'message-start'; id?: string | null } & Delta<{ role?: 'assistant' | null }>)
  | ({ type: 'content-start'; index?: number | null } & Delta<{
      content?: { thinking?: string | null; text?: string | null; type?: 'text' | 'thinking' | null } | null;
    }>)
  | ({ type: 'content-delta'; index?: number | null; logprobs?: unknown } & Delta<{
      content?: { thinking?: string | null; text?: string | null } | null;
    }>)
  | { type: 'content-end'; index?: number | null }
  | ({ type: 'tool-plan-delta' } & Delta<{ tool_plan?: string | null }>)
  | ({ type: 'tool-call-start'; index?: number | null } & Delta<{ tool_calls?: ToolCallV2Raw | null }>)
  | ({ type: 'tool-call-delta'; index?: number | null } & Delta<{
      tool_calls?: { function?: { arguments?: string | null } | null } | null;
    }>)
  | { type: 'tool-call-end'; index?: number | null }
  | ({ type: 'citation-start'; index?: number | null } & Delta<{ citations?: unknown }>)
  | { type: 'citation-end'; index?: number | null }
  | {
      type: 'message-end';
      id?: string | null;
      delta?: { error?: string | null; finish_reason?: ChatFinishReasonRaw | null; usage?: UsageRaw | null } | null;
    }
  | { type: 'debug'; prompt?: string | null };
