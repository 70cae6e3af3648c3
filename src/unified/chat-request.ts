// The unified request: OpenAI Chat Completions. Validated at the boundary with the rules OpenAI documents;
// unknown fields pass through untouched (OpenAI adds fields often and backends may understand them).
import { z } from 'zod';
import { UnifiedError } from './errors.js';
import { formatPath } from '../util/format-path.js';
import { isRecord, parseJson } from '../util/json.js';
import { findDepthViolation, MAX_JSON_DEPTH } from '../util/json-depth.js';

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).optional() }),
});
const audioPart = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
const filePart = z.looseObject({ type: z.literal('file'), file: z.looseObject({}) });
const userPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const textContent = z.union([z.string(), z.array(textPart).min(1)]);

export const chatMessageSchema = z.discriminatedUnion('role', [
  z.looseObject({ role: z.literal('system'), content: textContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal('developer'), content: textContent, name: z.string().optional() }),
  z.looseObject({
    role: z.literal('user'),
    content: z.union([z.string(), z.array(userPart).min(1)]),
    name: z.string().optional(),
  }),
  z.looseObject({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart])), z.null()]).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
    tool_calls: z.array(toolCall).optional(),
  }),
  z.looseObject({ role: z.literal('tool'), content: textContent, tool_call_id: z.string().min(1) }),
  z.looseObject({ role: z.literal('function'), content: z.string().nullable(), name: z.string() }),
]);

const functionTool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 characters of a-z, A-Z, 0-9, _ and -'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const MAX_TOKENS_LIMIT = 2 ** 31 - 1;

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  // Capped so a token budget's arithmetic stays exact; no model comes near 2^31 output tokens.
  max_tokens: z.number().int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).max(MAX_TOKENS_LIMIT).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)])
    .nullable()
    .optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  tools: z.array(functionTool).optional(),
  tool_choice: z
    .union([
      z.enum(['none', 'auto', 'required']),
      z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
      z.looseObject({ type: z.literal('allowed_tools') }),
    ])
    .optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: z
    .discriminatedUnion('type', [
      z.looseObject({ type: z.literal('text') }),
      z.looseObject({ type: z.literal('json_object') }),
      z.looseObject({
        type: z.literal('json_schema'),
        json_schema: z.looseObject({ name: z.string().min(1), schema: z.record(z.string(), z.unknown()).optional() }),
      }),
    ])
    .optional(),
  user: z.string().optional(),
  seed: z.number().int().nullable().optional(),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** Parses and validates a request body; every failure is a 400 that names the offending field. */
export function parseChatRequest(body: Buffer | string): ChatRequest {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (err) {
    const detail = err instanceof Error ? err.message : 'parse error';
    throw new UnifiedError('invalid_json', `We could not parse the JSON body of your request: ${detail}`);
  }
  if (!isRecord(json)) {
    throw new UnifiedError('invalid_json', 'The request body must be a JSON object.');
  }
  checkNesting(json);
  const result = chatRequestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? formatPath(issue.path) : '';
    const message = issue ? describeIssue(issue, param) : 'Invalid request.';
    throw new UnifiedError('invalid_request', message, param || null);
  }
  return result.data;
}

/** How many path segments name the field a nested value belongs to (`tools[0].function.parameters`). */
const FIELD_SEGMENTS: Readonly<Record<string, number>> = { tools: 4, response_format: 3, messages: 2 };

/** Deeper JSON than MAX_JSON_DEPTH is a 400 naming the field, before any walk (or JSON.stringify) sees it. */
function checkNesting(json: unknown): void {
  const violation = findDepthViolation(json, MAX_JSON_DEPTH);
  if (!violation) return;
  const top = violation.path[0];
  const segments = typeof top === 'string' ? (FIELD_SEGMENTS[top] ?? 1) : 1;
  const param = formatPath(violation.path.slice(0, segments));
  throw new UnifiedError(
    'invalid_request',
    `Invalid value for '${param}': JSON nested more than ${MAX_JSON_DEPTH} levels deep (at ${formatPath(violation.path.slice(0, 12))}${violation.path.length > 12 ? '…' : ''}). Requests are limited to ${MAX_JSON_DEPTH} levels of nesting.`,
    param,
  );
}

function describeIssue(issue: z.core.$ZodIssue, param: string): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return `Missing required parameter: '${param}'.`;
  return param ? `Invalid value for '${param}': ${issue.message}` : issue.message;
}

/**
 * For the upstream stage, which receives from Envoy the very bytes the router stage validated: parse without
 * re-running the schema (it costs more than the rest of the stage), but still refuse what could not have passed.
 */
export function parsePrevalidatedChatRequest(body: Buffer): ChatRequest {
  const json = parseJson(body);
  if (json === undefined) throw new UnifiedError('invalid_json', 'The request body is not JSON.');
  const shaped = json as Partial<ChatRequest> | null;
  if (
    shaped === null ||
    typeof shaped !== 'object' ||
    typeof shaped.model !== 'string' ||
    !Array.isArray(shaped.messages)
  ) {
    throw new UnifiedError('invalid_request', 'The request body is not a chat completion request.');
  }
  // The router stage refused deeper bodies; this guards the stage against a caller that skipped it.
  checkNesting(json);
  return shaped as ChatRequest;
}

/** True when the client asked for the usage chunk at the end of a stream. */
export function clientWantsStreamUsage(request: ChatRequest): boolean {
  return request.stream === true && request.stream_options?.include_usage === true;
}
