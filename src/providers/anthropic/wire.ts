// The subset of the Anthropic Messages API request this gateway sends. Kept narrow on purpose: a compile-time
// test (sdk-types.test.ts) proves it is assignable to the official SDK's request types.

export type AnthropicImageMediaType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp';

export interface AnthropicTextBlock {
  type: 'text';
  text: string;
}

export interface AnthropicImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: AnthropicImageMediaType; data: string } | { type: 'url'; url: string };
}

export interface AnthropicDocumentBlock {
  type: 'document';
  source: { type: 'base64'; media_type: 'application/pdf'; data: string };
  title?: string;
}

export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface AnthropicToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | AnthropicTextBlock[];
}

export type AnthropicUserBlock =
  AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock | AnthropicToolResultBlock;
export type AnthropicAssistantBlock = AnthropicTextBlock | AnthropicToolUseBlock;

export interface AnthropicUserTurn {
  role: 'user';
  content: AnthropicUserBlock[];
}

export interface AnthropicAssistantTurn {
  role: 'assistant';
  content: AnthropicAssistantBlock[];
}

export type AnthropicTurn = AnthropicUserTurn | AnthropicAssistantTurn;

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: { type: 'object'; [key: string]: unknown };
  strict?: boolean;
}

export type AnthropicToolChoice =
  | { type: 'auto' | 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export type AnthropicEffort = 'low' | 'medium' | 'high' | 'xhigh';

export interface AnthropicOutputConfig {
  format?: { type: 'json_schema'; schema: Record<string, unknown> };
  effort?: AnthropicEffort;
}

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicTurn[];
  system?: AnthropicTextBlock[];
  stop_sequences?: string[];
  /** Accepted by anthropic-version 2023-06-01 only; 2026-10-21 removed the sampling parameters. */
  temperature?: number;
  /** Accepted by anthropic-version 2023-06-01 only. */
  top_p?: number;
  top_k?: number;
  metadata?: { user_id: string };
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  output_config?: AnthropicOutputConfig;
  stream?: boolean;
}
