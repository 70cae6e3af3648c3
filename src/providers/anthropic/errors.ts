// Anthropic errors → OpenAI's error shape, with statuses Envoy's retry policy understands.
//
// Anthropic: {"type":"error","error":{"type","message","details"?:{"error_code"}},"request_id"}.
// OpenAI:    {"error":{"message","type","param","code"}}.
// - 529 overloaded_error (load across all users) becomes 503, the status proxies and clients retry on.
// - 429 stays 429; Anthropic's retry-after header passes through untouched (only the body is rewritten).
// - `code` is the most specific thing Anthropic says: details.error_code, else the error type.
import { isRecord, parseJson, recordField, stringField } from '../../util/json.js';
import { normaliseErrorBody, type OpenAIErrorBody } from '../../unified/errors.js';
import type { TranslatedBody } from '../provider.js';
import type { JsonObject } from './guards.js';

const OVERLOADED_STATUS = 529;
const SERVER_SIDE_TYPES: ReadonlySet<string> = new Set(['api_error', 'overloaded_error', 'timeout_error']);

export type OpenAIError = OpenAIErrorBody['error'];

/** The `error` object of an Anthropic error body or `event: error` payload, if the value is one. */
export function anthropicErrorObject(value: unknown): JsonObject | undefined {
  if (!isRecord(value)) return undefined;
  const error = recordField(value, 'error');
  return error && typeof error.message === 'string' ? error : undefined;
}

export function toOpenAIError(error: JsonObject, requestId: string | undefined, status?: number): OpenAIError {
  const anthropicType = stringField(error, 'type');
  const serverSide =
    (status !== undefined && status >= 500) || (anthropicType !== undefined && SERVER_SIDE_TYPES.has(anthropicType));
  const message = stringField(error, 'message') ?? 'Anthropic returned an error.';
  return {
    message: requestId ? `${message} (Anthropic request id: ${requestId})` : message,
    type: serverSide ? 'server_error' : 'invalid_request_error',
    param: null,
    code: stringField(recordField(error, 'details') ?? {}, 'error_code') ?? anthropicType ?? null,
  };
}

/** The status the client (and Envoy's retry policy) should see. */
export function clientStatus(status: number, error: JsonObject | undefined): number {
  if (status === OVERLOADED_STATUS || (error !== undefined && error.type === 'overloaded_error' && status >= 500))
    return 503;
  return status;
}

export function translateErrorResponse(status: number, body: Buffer): TranslatedBody {
  const json = parseJson(body);
  const error = anthropicErrorObject(json);
  const mapped = clientStatus(status, error);
  const statusChange = mapped === status ? {} : { status: mapped };
  if (!error) {
    // Not Anthropic's shape (e.g. a proxy's HTML page): keep the uniform OpenAI shape anyway.
    return { body: normaliseErrorBody(mapped, body) ?? body, usage: undefined, ...statusChange };
  }
  const requestId = isRecord(json) ? stringField(json, 'request_id') : undefined;
  const unified: OpenAIErrorBody = { error: toOpenAIError(error, requestId, mapped) };
  return { body: Buffer.from(JSON.stringify(unified)), usage: undefined, ...statusChange };
}
