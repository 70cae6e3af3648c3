// Unified (OpenAI Chat Completions) request → Bedrock Converse body, path and SigV4 (or bearer) headers. Pure;
// every feature Bedrock cannot honour is a 400 naming the field, so checkRequest (router stage) and buildRequest
// (upstream stage) share this code and cannot disagree.
import type { ResolvedBackend } from '../../config/topology.js';
import { credentialHeaders, joinPath } from '../http.js';
import type { UpstreamRequest, UpstreamTarget } from '../provider.js';
import { signRequest, uriEncode } from './sigv4.js';
import { BEDROCK_TOOL_IDS, rewriteToolCallIds } from '../tool-ids.js';
import { topK } from '../extra-fields.js';
import type { ChatMessage, ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord, parseJson } from '../../util/json.js';
import type {
  ContentBlock,
  ConverseRequest,
  ImageBlock,
  ImageFormat,
  InferenceConfig,
  JsonObject,
  Json,
  Message,
  Role,
  TextBlock,
  ToolConfig,
  ToolSpec,
} from './wire.js';

const WHO = 'the bedrock provider';

/** Name of the forced tool that carries JSON-mode answers (Converse has no JSON mode that every model supports). */
export const JSON_TOOL_NAME = 'json_response';

function refuse(message: string, param: string | null): UnifiedError {
  return new UnifiedError('invalid_request', message, param);
}

/** True when the answer is produced by the forced JSON tool and must be returned as message content. */
export function usesJsonTool(request: ChatRequest): boolean {
  const type = request.response_format?.type;
  return type === 'json_object' || type === 'json_schema';
}

// The request was parsed from JSON, so every value in it is JSON: this narrows the type, it converts nothing.
function asJsonObject(value: Record<string, unknown>): JsonObject {
  return value as JsonObject;
}

// ── Parameters ──────────────────────────────────────────────────────────────────────────────────────────────

function refuseUnsupportedParameters(request: ChatRequest): void {
  if ((request.n ?? 1) > 1)
    throw refuse(`'n' greater than 1 is not supported by ${WHO}: Converse returns one choice per request.`, 'n');
  if (request.presence_penalty) throw refuse(`'presence_penalty' is not supported by ${WHO}.`, 'presence_penalty');
  if (request.frequency_penalty) throw refuse(`'frequency_penalty' is not supported by ${WHO}.`, 'frequency_penalty');
  if (request.logprobs === true) throw refuse(`'logprobs' is not supported by ${WHO}.`, 'logprobs');
  if (request.top_logprobs !== undefined && request.top_logprobs !== null)
    throw refuse(`'top_logprobs' is not supported by ${WHO}.`, 'top_logprobs');
  if (isRecord(request.logit_bias) && Object.keys(request.logit_bias).length > 0)
    throw refuse(`'logit_bias' is not supported by ${WHO}.`, 'logit_bias');
  if (
    (Array.isArray(request.modalities) && request.modalities.includes('audio')) ||
    (request.audio !== undefined && request.audio !== null)
  ) {
    throw refuse(`Audio output is not supported by ${WHO}.`, 'modalities');
  }
  if (request.temperature !== undefined && request.temperature !== null && request.temperature > 1) {
    throw refuse(`'temperature' above 1 is not supported by ${WHO}: Bedrock models accept 0 to 1.`, 'temperature');
  }
  if (request.parallel_tool_calls === false && (request.tools?.length ?? 0) > 0) {
    throw refuse(
      `'parallel_tool_calls: false' is not supported by ${WHO}: Converse cannot limit a turn to one tool call.`,
      'parallel_tool_calls',
    );
  }
}

function inferenceConfig(request: ChatRequest): InferenceConfig | undefined {
  const config: InferenceConfig = {};
  // max_completion_tokens is the current name; max_tokens the deprecated one. Converse has one limit.
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) config.maxTokens = maxTokens;
  if (request.temperature !== undefined && request.temperature !== null) config.temperature = request.temperature;
  if (request.top_p !== undefined && request.top_p !== null) config.topP = request.top_p;
  const stop = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []);
  if (stop.length > 0) config.stopSequences = [...stop];
  return Object.keys(config).length > 0 ? config : undefined;
}

// ── Messages ────────────────────────────────────────────────────────────────────────────────────────────────

const IMAGE_FORMATS: Readonly<Record<string, ImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** Converse takes image bytes only (or S3 locations): a data URL becomes bytes, a web URL is refused. */
export function imageBlock(url: string, param: string): ImageBlock {
  if (/^https?:/i.test(url)) {
    throw refuse(
      `Image URLs are not supported by ${WHO}: Bedrock takes image bytes only. Send the image as a base64 data URL (data:image/png;base64,…).`,
      param,
    );
  }
  const header = /^data:([^;,]+)((?:;[^;,]*)*),/i.exec(url);
  if (!header) throw refuse(`The image must be a base64 data URL (data:image/png;base64,…).`, param);
  const mediaType = (header[1] ?? '').toLowerCase();
  const format = IMAGE_FORMATS[mediaType];
  if (!format) throw refuse(`Image type '${mediaType}' is not supported by ${WHO}: use PNG, JPEG, GIF or WebP.`, param);
  if (!(header[2] ?? '').toLowerCase().split(';').includes('base64')) {
    throw refuse(`The image data URL must be base64-encoded (data:${mediaType};base64,…).`, param);
  }
  const data = url.slice(header[0].length);
  if (data.length === 0) throw refuse('The image data URL is empty.', param);
  return { image: { format, source: { bytes: data } } };
}

type UserMessage = Extract<ChatMessage, { role: 'user' }>;
type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

function texts(content: string | ReadonlyArray<{ text: string }>): string[] {
  return typeof content === 'string' ? [content] : content.map((part) => part.text);
}

/** Converse rejects blank text blocks ("text content blocks must be non-empty"): they carry nothing, so they are dropped. */
function isBlank(text: string): boolean {
  return text.trim() === '';
}

function userBlocks(message: UserMessage, index: number): ContentBlock[] {
  if (typeof message.content === 'string') return isBlank(message.content) ? [] : [{ text: message.content }];
  return message.content.flatMap((part, j): ContentBlock[] => {
    const param = `messages[${index}].content[${j}]`;
    switch (part.type) {
      case 'text':
        return isBlank(part.text) ? [] : [{ text: part.text }];
      case 'image_url':
        return [imageBlock(part.image_url.url, `${param}.image_url.url`)];
      case 'input_audio':
        throw refuse(`Audio input ('input_audio' content parts) is not supported by ${WHO}.`, param);
      case 'file':
        throw refuse(`File inputs ('file' content parts) are not supported by ${WHO}.`, param);
    }
  });
}

/** Tool-call arguments are a JSON string in OpenAI and a JSON object in Converse. */
function toolInput(args: string, param: string): Json {
  if (args.trim() === '') return {};
  const parsed = parseJson(args);
  if (parsed === undefined)
    throw refuse(
      'Tool-call arguments must be a JSON object for the bedrock provider; these are not valid JSON.',
      param,
    );
  if (!isRecord(parsed)) throw refuse('Tool-call arguments must be a JSON object for the bedrock provider.', param);
  return asJsonObject(parsed);
}

function assistantBlocks(message: AssistantMessage, index: number): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  const add = (text: string): void => {
    // Converse rejects blank text blocks; an empty or whitespace-only string carries nothing.
    if (!isBlank(text)) blocks.push({ text });
  };
  if (typeof message.content === 'string') add(message.content);
  else if (Array.isArray(message.content))
    for (const part of message.content) add(part.type === 'text' ? part.text : part.refusal);
  if (blocks.length === 0 && typeof message.refusal === 'string') add(message.refusal);
  for (const [j, call] of (message.tool_calls ?? []).entries()) {
    blocks.push({
      toolUse: {
        toolUseId: call.id,
        name: call.function.name,
        input: toolInput(call.function.arguments, `messages[${index}].tool_calls[${j}].function.arguments`),
      },
    });
  }
  return blocks;
}

/** Blank tool output is dropped like any blank text; a result with nothing left says so in JSON (content must not be empty). */
function toolResultContent(parts: readonly string[]): Array<{ text: string } | { json: Json }> {
  const kept = parts.filter((text) => !isBlank(text)).map((text) => ({ text }));
  return kept.length > 0 ? kept : [{ json: {} }];
}

/** Converse wants user/assistant turns; consecutive turns of one role (user text + tool results) become one. */
function pushTurn(turns: Message[], role: Role, blocks: ContentBlock[]): void {
  if (blocks.length === 0) return; // an empty assistant turn is dropped: Converse rejects empty content
  const last = turns.at(-1);
  if (last?.role === role) last.content.push(...blocks);
  else turns.push({ role, content: blocks });
}

interface Conversation {
  system: TextBlock[];
  turns: Message[];
  /** The history holds tool calls or tool results (Converse then requires a toolConfig). */
  hasToolBlocks: boolean;
}

function conversation(messages: readonly ChatMessage[]): Conversation {
  const result: Conversation = { system: [], turns: [], hasToolBlocks: false };
  messages.forEach((message, index) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        // Converse has one top-level system list: every system/developer message lands there, in order.
        for (const text of texts(message.content)) if (!isBlank(text)) result.system.push({ text });
        return;
      case 'user':
        return pushTurn(result.turns, 'user', userBlocks(message, index));
      case 'assistant':
        if ((message.tool_calls?.length ?? 0) > 0) result.hasToolBlocks = true;
        return pushTurn(result.turns, 'assistant', assistantBlocks(message, index));
      case 'tool':
        result.hasToolBlocks = true;
        return pushTurn(result.turns, 'user', [
          {
            toolResult: {
              toolUseId: message.tool_call_id,
              content: toolResultContent(texts(message.content)),
              status: 'success',
            },
          },
        ]);
      case 'function':
        throw refuse(
          `The deprecated 'function' role is not supported by ${WHO}; use tool messages.`,
          `messages[${index}].role`,
        );
    }
  });
  if (result.turns.length === 0) {
    throw refuse(
      `${WHO} needs at least one non-blank user or assistant message besides system messages (Converse rejects blank text).`,
      'messages',
    );
  }
  return result;
}

// ── Tools and JSON mode ─────────────────────────────────────────────────────────────────────────────────────

type FunctionTool = NonNullable<ChatRequest['tools']>[number];
type ResponseFormat = NonNullable<ChatRequest['response_format']>;

const EMPTY_OBJECT_SCHEMA: JsonObject = { type: 'object', properties: {} };

function toolSpec(tool: FunctionTool): ToolSpec {
  const spec: ToolSpec['toolSpec'] = {
    name: tool.function.name,
    inputSchema: { json: tool.function.parameters ? asJsonObject(tool.function.parameters) : EMPTY_OBJECT_SCHEMA },
  };
  if (tool.function.description) spec.description = tool.function.description;
  if (tool.function.strict === true) spec.strict = true;
  return { toolSpec: spec };
}

function jsonToolSpec(format: ResponseFormat): ToolSpec {
  if (format.type === 'json_schema') {
    const schema = format.json_schema.schema ?? { type: 'object' };
    if (schema.type !== undefined && schema.type !== 'object') {
      throw refuse(
        `${WHO} emulates json_schema with a tool, whose input must be an object: the schema's top-level type must be "object".`,
        'response_format.json_schema.schema',
      );
    }
    const extra = typeof format.json_schema.description === 'string' ? ` ${format.json_schema.description}` : '';
    const spec: ToolSpec['toolSpec'] = {
      name: JSON_TOOL_NAME,
      description: `Give your answer by calling this tool: its input is the answer, a JSON object following the "${format.json_schema.name}" schema.${extra}`,
      inputSchema: { json: asJsonObject(schema) },
    };
    if (format.json_schema.strict === true) spec.strict = true;
    return { toolSpec: spec };
  }
  return {
    toolSpec: {
      name: JSON_TOOL_NAME,
      description: 'Give your answer by calling this tool: its input is the answer, a JSON object.',
      inputSchema: { json: { type: 'object' } },
    },
  };
}

function toolConfig(request: ChatRequest, hasToolBlocks: boolean): ToolConfig | undefined {
  const tools = request.tools ?? [];
  const choice = request.tool_choice;
  if (typeof choice === 'object' && choice.type === 'allowed_tools') {
    throw refuse(`tool_choice 'allowed_tools' is not supported by ${WHO}.`, 'tool_choice');
  }
  const forcing = choice === 'required' || typeof choice === 'object';

  if (request.response_format && usesJsonTool(request)) {
    if (tools.length > 0) {
      throw refuse(
        `${WHO} emulates response_format ${request.response_format.type} with a forced tool, so it cannot be combined with 'tools'.`,
        'response_format',
      );
    }
    if (forcing) throw refuse(`'tool_choice' ${JSON.stringify(choice)} needs 'tools'.`, 'tool_choice');
    return { tools: [jsonToolSpec(request.response_format)], toolChoice: { tool: { name: JSON_TOOL_NAME } } };
  }

  if (tools.length === 0) {
    if (forcing) throw refuse(`'tool_choice' ${JSON.stringify(choice)} needs 'tools'.`, 'tool_choice');
    if (hasToolBlocks) {
      throw refuse(
        `The conversation contains tool calls or tool results, and Bedrock requires the tool definitions with them: pass 'tools'.`,
        'tools',
      );
    }
    return undefined;
  }

  if (choice === 'none') {
    // Converse has no "none": the tools are withheld instead, which Converse refuses once the history holds
    // tool blocks. Sending them with "auto" would let the model call tools the client ruled out.
    if (hasToolBlocks) {
      throw refuse(
        `tool_choice 'none' cannot be honoured by ${WHO} when the conversation contains tool calls or tool results: Converse has no 'none' choice and needs the tools defined.`,
        'tool_choice',
      );
    }
    return undefined;
  }

  const config: ToolConfig = { tools: tools.map(toolSpec) };
  if (choice === 'required') config.toolChoice = { any: {} };
  else if (typeof choice === 'object' && choice.type === 'function') {
    const name = choice.function.name;
    if (!tools.some((tool) => tool.function.name === name))
      throw refuse(`tool_choice names '${name}', which is not in 'tools'.`, 'tool_choice.function.name');
    config.toolChoice = { tool: { name } };
  }
  // "auto" (or nothing) is Converse's default: omitting toolChoice keeps models that do not take the field working.
  return config;
}

// ── The request ─────────────────────────────────────────────────────────────────────────────────────────────

/** Claude on Bedrock (model ids `anthropic.claude…`, with or without a region prefix or ARN) takes top_k. */
export function isClaudeModel(modelId: string): boolean {
  return /(^|[.:/])anthropic\.claude/.test(modelId);
}

/** An explicit top_k goes to Claude models through additionalModelRequestFields; other models have no such field. */
function additionalFields(request: ChatRequest, modelId: string | undefined): JsonObject | undefined {
  const k = topK(request);
  if (k === undefined || modelId === undefined) return undefined;
  if (!isClaudeModel(modelId))
    throw refuse(`'top_k' is only supported by ${WHO} for Claude models ('${modelId}' is not one).`, 'top_k');
  return { top_k: k };
}

/**
 * The Converse body for a unified request; throws a 400 UnifiedError for anything Bedrock cannot honour.
 * `modelId` (the upstream model) decides model-specific fields; without it they are checked per attempt.
 */
export function toConverseRequest(request: ChatRequest, modelId?: string): ConverseRequest {
  refuseUnsupportedParameters(request);
  // toolUseId must match [a-zA-Z0-9_-]{1,64}; ids from another provider (a failover) may not.
  const { system, turns, hasToolBlocks } = conversation(rewriteToolCallIds(request.messages, BEDROCK_TOOL_IDS));
  const body: ConverseRequest = { messages: turns };
  if (system.length > 0) body.system = system;
  const inference = inferenceConfig(request);
  if (inference) body.inferenceConfig = inference;
  const tools = toolConfig(request, hasToolBlocks);
  if (tools) body.toolConfig = tools;
  const additional = additionalFields(request, modelId);
  if (additional) body.additionalModelRequestFields = additional;
  return body;
}

/** SigV4 signing name of bedrock-runtime (its endpoint prefix differs). */
const SIGNING_NAME = 'bedrock';

/**
 * The model id is ONE path segment: `:` (versions) and `/` (ARNs) are percent-encoded, e.g.
 * `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-v1:0`.
 */
export function conversePath(baseUrl: URL, modelId: string, stream: boolean): string {
  // A dot segment (`..`) would survive uriEncode and walk up the path: dots alone are escaped as well.
  const segment = /^\.+$/.test(modelId) ? modelId.replace(/\./g, '%2E') : uriEncode(modelId);
  return joinPath(baseUrl, `/model/${segment}/${stream ? 'converse-stream' : 'converse'}`);
}

function regionOf(backend: ResolvedBackend): string {
  // The registry only hands bedrock backends to this provider; the config schema requires the region.
  if (backend.config.provider !== 'bedrock') throw new Error(`backend ${backend.name} is not a bedrock backend`);
  return backend.config.region;
}

function authorise(
  target: UpstreamTarget,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Record<string, string> {
  const { backend, credentials } = target;
  if (credentials.apiKey) return { ...credentialHeaders(target), ...headers };
  const accessKeyId = credentials.roles.get('accessKeyId');
  const secretAccessKey = credentials.roles.get('secretAccessKey');
  // The topology disables a backend whose credentials are missing, so this only fires on a programming error.
  if (!accessKeyId || !secretAccessKey)
    throw new Error(`backend ${backend.name} has neither an API key nor AWS credentials`);
  const signed = signRequest(
    // Envoy's auto_host_rewrite sends the endpoint's hostname, which the config keeps equal to the base URL's.
    { method: 'POST', host: backend.baseUrl.host, path, headers: { ...backend.headers, ...headers }, body },
    {
      credentials: {
        accessKeyId: accessKeyId.reveal(),
        secretAccessKey: secretAccessKey.reveal(),
        sessionToken: credentials.roles.get('sessionToken')?.reveal(),
      },
      region: regionOf(backend),
      service: SIGNING_NAME,
      now: target.now,
    },
  );
  return signed.headers;
}

export function buildConverseRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  const body = Buffer.from(JSON.stringify(toConverseRequest(request, target.upstreamModel)));
  const path = conversePath(target.backend.baseUrl, target.upstreamModel, request.stream === true);
  return { path, headers: authorise(target, path, { 'content-type': 'application/json' }, body), body };
}
