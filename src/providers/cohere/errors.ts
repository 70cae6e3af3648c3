// Cohere errors → OpenAI's error shape: error bodies, and generations that finished with a failure.
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { isRecord, parseJson, recordField, stringField } from '../../util/json.js';
import type { TranslatedBody } from '../provider.js';

/** A finish reason that means the generation failed: it becomes an error, not a plausible-looking answer. */
export interface FailedGeneration {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export function failureBody(failure: FailedGeneration, detail?: string): OpenAIErrorBody {
  const message = detail ? `${failure.message} ${detail}` : failure.message;
  return { error: { message, type: 'server_error', param: null, code: failure.code } };
}

/** Error types OpenAI clients know, by the status the client will see. */
function errorKind(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: 'authentication_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'permission_error', code: null };
  if (status === 404) return { type: 'invalid_request_error', code: 'model_not_found' };
  if (status === 429) return { type: 'rate_limit_error', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

/**
 * Cohere errors are `{"message": "…"}` (sometimes with an `id`). Statuses carry over, except Cohere's 498
 * "invalid token", which is a 401. Response headers (e.g. a 429's retry-after) pass through untouched.
 */
export function translateCohereError(status: number, body: Buffer): TranslatedBody {
  const parsed = parseJson(body);
  const message =
    (isRecord(parsed)
      ? (stringField(parsed, 'message') ?? stringField(recordField(parsed, 'error'), 'message'))
      : undefined) ??
    (body.toString('utf8').trim().slice(0, 500) || `Cohere returned HTTP ${status}`);
  const clientStatus = status === 498 ? 401 : status;
  const kind = errorKind(clientStatus);
  const unified: OpenAIErrorBody = { error: { message, type: kind.type, param: null, code: kind.code } };
  return {
    body: Buffer.from(JSON.stringify(unified)),
    usage: undefined,
    ...(clientStatus !== status ? { status: clientStatus } : {}),
  };
}
