// Bedrock Converse wire types: the JSON the gateway sends and the shapes it reads back. Written from the
// service model (botocore bedrock-runtime 2023-09-30); sdk-types.test.ts proves the request side assignable to
// the official SDK's ConverseCommandInput (with blobs as the base64 strings restJson1 puts on the wire).

import type { JsonObject, JsonValue as Json } from '../../util/json.js';

/** A JSON value (what `JSON.parse` yields); the SDK calls this DocumentType. */
export type { Json, JsonObject };

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

export interface TextBlock {
  text: string;
}
export interface ImageBlock {
  /** `bytes` is a blob: base64 in JSON (restJson1), a Uint8Array in the SDK's types. */
  image: { format: ImageFormat; source: { bytes: string } };
}
export interface ToolUseBlock {
  toolUse: { toolUseId: string; name: string; input: Json };
}
export interface ToolResultBlock {
  /** Content is text, or `{json}` (a tool result whose output was blank: Converse rejects blank text). */
  toolResult: { toolUseId: string; content: Array<TextBlock | { json: Json }>; status: 'success' | 'error' };
}
export type ContentBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock;

export type Role = 'user' | 'assistant';

export interface Message {
  role: Role;
  content: ContentBlock[];
}

export interface ToolSpec {
  toolSpec: { name: string; description?: string; inputSchema: { json: JsonObject }; strict?: boolean };
}

/** Bedrock has no "none" choice: see request.ts for how `tool_choice: "none"` is honoured. */
export type ToolChoice = { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };

export interface ToolConfig {
  tools: ToolSpec[];
  toolChoice?: ToolChoice;
}

export interface InferenceConfig {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
}

/** The body of POST /model/{modelId}/converse and /converse-stream (the model id travels in the path). */
export interface ConverseRequest {
  messages: Message[];
  system?: TextBlock[];
  inferenceConfig?: InferenceConfig;
  toolConfig?: ToolConfig;
  /** Model-specific fields Converse passes through (e.g. Claude's top_k). */
  additionalModelRequestFields?: JsonObject;
}
