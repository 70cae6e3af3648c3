// Errors the service itself produces, in OpenAI's shape: {"error":{"message","type","param","code"}}.
// Each kind fixes its status so callers cannot pair a message with the wrong code.

export type UnifiedErrorKind =
  | 'invalid_json'
  | 'invalid_request'
  | 'unknown_endpoint'
  | 'model_not_found'
  | 'request_too_large'
  | 'no_backend'
  | 'upstream_error'
  | 'upstream_auth'
  | 'upstream_invalid_response'
  | 'internal';

interface KindSpec {
  readonly status: number;
  readonly type: string;
  readonly code: string;
}

const KINDS: Record<UnifiedErrorKind, KindSpec> = {
  invalid_json: { status: 400, type: 'invalid_request_error', code: 'invalid_json' },
  invalid_request: { status: 400, type: 'invalid_request_error', code: 'invalid_value' },
  unknown_endpoint: { status: 404, type: 'invalid_request_error', code: 'unknown_url' },
  model_not_found: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  request_too_large: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  no_backend: { status: 503, type: 'server_error', code: 'no_backend_available' },
  upstream_error: { status: 502, type: 'server_error', code: 'upstream_error' },
  /** The provider rejected the gateway's own credentials (its 401/403): the operator's problem, not the client's. */
  upstream_auth: { status: 502, type: 'server_error', code: 'upstream_authentication_failed' },
  /** A 2xx whose body is not what the provider's format promises (invalid JSON, compressed although identity was asked). */
  upstream_invalid_response: { status: 502, type: 'server_error', code: 'upstream_invalid_response' },
  internal: { status: 500, type: 'server_error', code: 'internal_error' },
};

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * An answer the gateway gives without asking a provider: an error, a budget refusal, the model list. The router
 * stage sends every one the same way (an immediate response with content-type and the request id added).
 */
export interface Reply<Body = unknown> {
  readonly status: number;
  /** Extra headers (retry-after, x-ratelimit-*). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Body;
}

export type ErrorReply = Reply<OpenAIErrorBody>;

/** An error reply in OpenAI's shape, for errors that are not a UnifiedError kind (budget refusals). */
export function errorReply(
  status: number,
  type: string,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): ErrorReply {
  return { status, headers, body: { error: { message, type, param: null, code } } };
}

/** Every error the gateway writes names the request it answers, so the client can quote it. */
export function withRequestId(body: OpenAIErrorBody, requestId: string | undefined): OpenAIErrorBody {
  if (!requestId) return body;
  return { error: { ...body.error, message: namedMessage(body.error.message, requestId) } };
}

/**
 * withRequestId for an error that arrives as parsed JSON (a provider's body after translation, an SSE error event):
 * undefined when it is not OpenAI-shaped (`error.message` a string) or already names the request.
 */
export function withRequestIdInJson(json: unknown, requestId: string): Record<string, unknown> | undefined {
  if (!isRecord(json) || !isRecord(json.error)) return undefined;
  const message = json.error.message;
  if (typeof message !== 'string' || message.includes(requestId)) return undefined;
  return { ...json, error: { ...json.error, message: namedMessage(message, requestId) } };
}

function namedMessage(message: string, requestId: string): string {
  return `${message} (request id: ${requestId})`;
}

export class UnifiedError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;

  constructor(
    readonly kind: UnifiedErrorKind,
    message: string,
    readonly param: string | null = null,
    status?: number,
  ) {
    super(message);
    const spec = KINDS[kind];
    this.status = status ?? spec.status;
    this.type = spec.type;
    this.code = spec.code;
  }

  toBody(requestId: string | undefined): OpenAIErrorBody {
    return withRequestId(
      { error: { message: this.message, type: this.type, param: this.param, code: this.code } },
      requestId,
    );
  }

  toReply(): ErrorReply {
    return { status: this.status, headers: {}, body: this.toBody(undefined) };
  }
}

/** Anything thrown that is not a UnifiedError is an internal error; its message stays in the logs only. */
export function asUnifiedError(err: unknown): UnifiedError {
  if (err instanceof UnifiedError) return err;
  return new UnifiedError('internal', 'The gateway failed to process this request.');
}

// Error bodies from upstreams that are not OpenAI-shaped (compatible servers, Envoy's own local replies).
import { isRecord, parseJson } from '../util/json.js';

/** OpenAI-compatible servers disagree on error shapes ({"error":"…"}, {"detail":…}, {"message":…}, plain text). */
export function normaliseErrorBody(status: number, body: Buffer): Buffer | undefined {
  const json = parseJson(body);
  if (isRecord(json) && isRecord(json.error) && typeof json.error.message === 'string') return undefined;
  let message: string | undefined;
  if (isRecord(json)) {
    for (const key of ['error', 'message', 'detail'] as const) {
      const value = json[key];
      if (typeof value === 'string') {
        message = value;
        break;
      }
      if (isRecord(value) && typeof value.message === 'string') {
        message = value.message;
        break;
      }
    }
  }
  message ??= body.toString('utf8').trim().slice(0, 500) || `upstream returned HTTP ${status}`;
  const unified: OpenAIErrorBody = {
    error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null },
  };
  return Buffer.from(JSON.stringify(unified));
}
