// Unified (OpenAI) request → Cohere v2 Chat request. Cohere's messages and tools are OpenAI-shaped, so most of the
// work is renaming (top_p → p, stop → stop_sequences, max_* → max_tokens) and refusing what Cohere cannot do.
import type { ChatMessage, ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord } from '../../util/json.js';
import { topK } from '../extra-fields.js';
import { credentialHeaders, joinPath } from '../http.js';
import type { UpstreamRequest, UpstreamTarget } from '../provider.js';
import type {
  CohereChatRequest,
  CohereImageContent,
  CohereMessage,
  CohereResponseFormat,
  CohereTextContent,
  CohereTool,
  CohereToolCall,
} from './wire.js';

/** Cohere: "A list of up to 5 strings". */
export const MAX_STOP_SEQUENCES = 5;
/** Cohere's `p`: "min value of 0.01, max value of 0.99". */
const P_MIN = 0.01;
const P_MAX = 0.99;
/** Cohere's penalties: "min value of 0.0, max value of 1.0" (OpenAI allows -2…2). */
const PENALTY_MAX = 1;
/** Cohere's `k`: "min value of 0, max value of 500". */
const K_MAX = 500;

function reject(message: string, param: string): never {
  throw new UnifiedError('invalid_request', `${message} (not supported by Cohere backends).`, param);
}

/** Fields OpenAI defines that change the output and that Cohere cannot honour. */
function checkUnsupportedFields(request: ChatRequest): void {
  const extra = request as Record<string, unknown>;
  if (extra.logprobs === true) reject("'logprobs' is not available", 'logprobs');
  if (extra.top_logprobs !== undefined && extra.top_logprobs !== null)
    reject("'top_logprobs' is not available", 'top_logprobs');
  if (isRecord(extra.logit_bias) && Object.keys(extra.logit_bias).length > 0)
    reject("'logit_bias' is not available", 'logit_bias');
  if (extra.audio !== undefined && extra.audio !== null) reject('Audio output is not available', 'audio');
  if (Array.isArray(extra.modalities) && extra.modalities.some((m) => m !== 'text'))
    reject('Only text output is available', 'modalities');
  if (extra.prediction !== undefined && extra.prediction !== null)
    reject('Predicted outputs are not available', 'prediction');
  if (extra.web_search_options !== undefined) reject('Web search is not available', 'web_search_options');
  if (extra.functions !== undefined || extra.function_call !== undefined) {
    reject(
      "The deprecated 'functions' API is not available; use 'tools'",
      extra.functions !== undefined ? 'functions' : 'function_call',
    );
  }
}

function checkMessages(messages: readonly ChatMessage[]): void {
  messages.forEach((message, i) => {
    if (message.role === 'function')
      reject("The deprecated 'function' role is not available; use 'tool'", `messages[${i}].role`);
    if (message.role === 'user' && Array.isArray(message.content)) {
      message.content.forEach((part, j) => {
        if (part.type === 'input_audio') reject('Audio input is not available', `messages[${i}].content[${j}].type`);
        if (part.type === 'file') reject('File input is not available', `messages[${i}].content[${j}].type`);
      });
    }
  });
}

function stopSequences(stop: ChatRequest['stop']): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  return typeof stop === 'string' ? [stop] : stop;
}

/** Router stage: a 400 naming the first feature a Cohere backend cannot honour. */
export function checkCohereRequest(request: ChatRequest): void {
  if (typeof request.n === 'number' && request.n > 1)
    reject("'n' above 1 is not available: Cohere returns one choice", 'n');
  const stop = stopSequences(request.stop);
  if (stop && stop.length > MAX_STOP_SEQUENCES) reject(`'stop' takes at most ${MAX_STOP_SEQUENCES} sequences`, 'stop');
  for (const param of ['frequency_penalty', 'presence_penalty'] as const) {
    const value = request[param];
    if (typeof value === 'number' && (value < 0 || value > PENALTY_MAX))
      reject(`'${param}' must be between 0 and ${PENALTY_MAX}`, param);
  }
  if (request.parallel_tool_calls === false)
    reject("'parallel_tool_calls: false' cannot be enforced", 'parallel_tool_calls');
  const k = topK(request);
  if (k !== undefined && k > K_MAX) reject(`'top_k' must be at most ${K_MAX}`, 'top_k');
  checkUnsupportedFields(request);
  checkMessages(request.messages);
  selectTools(request); // throws for a tool_choice that names an unknown tool
}

function text(
  content: string | ReadonlyArray<{ type: string; text?: string; refusal?: string }> | null | undefined,
): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => part.text ?? part.refusal ?? '').join('');
}

function textParts(content: string | ReadonlyArray<{ text: string }>): string | CohereTextContent[] {
  return typeof content === 'string' ? content : content.map((part) => ({ type: 'text', text: part.text }));
}

function userContent(
  content: Extract<ChatMessage, { role: 'user' }>['content'],
): string | Array<CohereTextContent | CohereImageContent> {
  if (typeof content === 'string') return content;
  const parts: Array<CohereTextContent | CohereImageContent> = [];
  for (const part of content) {
    if (part.type === 'text') parts.push({ type: 'text', text: part.text });
    else if (part.type === 'image_url') {
      // Data URLs and http(s) URLs alike: Cohere accepts both and fetches URLs itself.
      const image: CohereImageContent = { type: 'image_url', image_url: { url: part.image_url.url } };
      if (part.image_url.detail) image.image_url.detail = part.image_url.detail;
      parts.push(image);
    }
    // input_audio and file were refused by checkCohereRequest.
  }
  return parts;
}

function toolCalls(calls: Extract<ChatMessage, { role: 'assistant' }>['tool_calls']): CohereToolCall[] {
  return (calls ?? []).map((call) => ({
    id: call.id,
    type: 'function',
    function: { name: call.function.name, arguments: call.function.arguments },
  }));
}

export function cohereMessages(messages: readonly ChatMessage[]): CohereMessage[] {
  const out: CohereMessage[] = [];
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
        // Every system and developer message, where it stands: Cohere takes system messages in the list.
        out.push({ role: 'system', content: textParts(message.content) });
        break;
      case 'user':
        out.push({ role: 'user', content: userContent(message.content) });
        break;
      case 'assistant': {
        const calls = toolCalls(message.tool_calls);
        const said = text(message.content);
        if (calls.length > 0) {
          // Text next to tool calls is Cohere's tool plan (and comes back as content, see response.ts).
          out.push(
            said === ''
              ? { role: 'assistant', tool_calls: calls }
              : { role: 'assistant', tool_plan: said, tool_calls: calls },
          );
        } else {
          out.push({ role: 'assistant', content: said });
        }
        break;
      }
      case 'tool':
        out.push({ role: 'tool', tool_call_id: message.tool_call_id, content: textParts(message.content) });
        break;
      case 'function':
        break; // refused by checkCohereRequest
    }
  }
  return out;
}

interface ToolSelection {
  readonly tools: NonNullable<ChatRequest['tools']>;
  readonly choice: 'REQUIRED' | 'NONE' | undefined;
}

/**
 * Cohere's tool_choice is only REQUIRED or NONE. A named tool (or an allowed_tools list) becomes REQUIRED/auto with
 * only those tools sent: the model then must (or may) call exactly what the client allowed.
 */
export function selectTools(request: ChatRequest): ToolSelection {
  const all = request.tools ?? [];
  const choice = request.tool_choice;
  if (choice === undefined || choice === 'auto') return { tools: all, choice: undefined };
  if (all.length === 0) {
    if (choice === 'none') return { tools: all, choice: undefined };
    reject("'tool_choice' needs 'tools'", 'tool_choice');
  }
  if (choice === 'none') return { tools: all, choice: 'NONE' };
  if (choice === 'required') return { tools: all, choice: 'REQUIRED' };
  if (choice.type === 'function') {
    const name = choice.function.name;
    const tools = all.filter((tool) => tool.function.name === name);
    if (tools.length === 0) reject(`'tool_choice' names '${name}', which is not in 'tools'`, 'tool_choice');
    return { tools, choice: 'REQUIRED' };
  }
  // allowed_tools: { mode: auto|required, tools: [{type:function, function:{name}}] }
  const allowed = isRecord(choice.allowed_tools) ? choice.allowed_tools : {};
  const names = new Set(
    (Array.isArray(allowed.tools) ? allowed.tools : []).flatMap((t) =>
      isRecord(t) && isRecord(t.function) && typeof t.function.name === 'string' ? [t.function.name] : [],
    ),
  );
  const tools = all.filter((tool) => names.has(tool.function.name));
  if (tools.length === 0) reject("'tool_choice.allowed_tools' allows none of the tools in 'tools'", 'tool_choice');
  return { tools, choice: allowed.mode === 'required' ? 'REQUIRED' : undefined };
}

function cohereTools(tools: NonNullable<ChatRequest['tools']>): CohereTool[] {
  return tools.map((tool) => {
    const fn: CohereTool['function'] = {
      name: tool.function.name,
      parameters: tool.function.parameters ?? { type: 'object', properties: {} },
    };
    if (tool.function.description !== undefined) fn.description = tool.function.description;
    return { type: 'function', function: fn };
  });
}

function responseFormat(format: ChatRequest['response_format']): CohereResponseFormat | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  const schema = format.json_schema.schema;
  return schema ? { type: 'json_object', json_schema: schema } : { type: 'json_object' };
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** Upstream stage: the Cohere request body for one attempt (checkCohereRequest has passed). */
export function toCohereRequest(request: ChatRequest, upstreamModel: string): CohereChatRequest {
  const out: CohereChatRequest = { model: upstreamModel, messages: cohereMessages(request.messages) };
  if (request.stream === true) out.stream = true;
  const { tools, choice } = selectTools(request);
  if (tools.length > 0) {
    out.tools = cohereTools(tools);
    // Cohere's strictness is per request: one strict tool makes all strict (never looser than asked).
    if (tools.some((tool) => tool.function.strict === true)) out.strict_tools = true;
  }
  if (choice) out.tool_choice = choice;
  const format = responseFormat(request.response_format);
  if (format) out.response_format = format;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (typeof maxTokens === 'number') out.max_tokens = maxTokens;
  const stop = stopSequences(request.stop);
  if (stop && stop.length > 0) out.stop_sequences = stop;
  if (typeof request.temperature === 'number') out.temperature = request.temperature;
  if (typeof request.top_p === 'number') out.p = clamp(request.top_p, P_MIN, P_MAX);
  const k = topK(request);
  if (k !== undefined) out.k = k;
  if (typeof request.seed === 'number') out.seed = request.seed;
  if (typeof request.frequency_penalty === 'number') out.frequency_penalty = request.frequency_penalty;
  if (typeof request.presence_penalty === 'number') out.presence_penalty = request.presence_penalty;
  // OpenAI's effort levels have no Cohere counterpart beyond on/off (Command A Reasoning's `thinking`).
  const effort = (request as Record<string, unknown>).reasoning_effort;
  if (typeof effort === 'string') out.thinking = { type: effort === 'none' ? 'disabled' : 'enabled' };
  return out;
}

export function buildCohereRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  return {
    path: joinPath(target.backend.baseUrl, '/chat'),
    headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
    body: Buffer.from(JSON.stringify(toCohereRequest(request, target.upstreamModel))),
  };
}
