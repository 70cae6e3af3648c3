// Google errors ({"error":{"code","message","status","details"}}, google.rpc.Status as JSON) in OpenAI's shape,
// with the status Envoy's retry policy should see and a retry-after taken from google.rpc.RetryInfo.
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { isRecord, stringField } from '../../util/json.js';

/** Canonical gRPC codes as HTTP statuses (google.rpc.Code mapping), so e.g. UNAVAILABLE is always a 503. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  UNKNOWN: 500,
  INTERNAL: 500,
  DATA_LOSS: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

function openAIType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** google.protobuf.Duration in JSON ("34.4s") as whole seconds, rounded up so a client never retries early. */
function retryAfterSeconds(details: unknown): string | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    if (!isRecord(detail) || detail['@type'] !== 'type.googleapis.com/google.rpc.RetryInfo') continue;
    const match = /^(\d+(?:\.\d+)?)s$/.exec(stringField(detail, 'retryDelay') ?? '');
    if (match) return String(Math.max(1, Math.ceil(Number(match[1]))));
  }
  return undefined;
}

export interface MappedError {
  readonly status: number;
  readonly body: OpenAIErrorBody;
  readonly retryAfter: string | undefined;
}

/** Maps a Google error object; undefined when the value is not one (the caller then falls back). */
export function mapGoogleError(json: unknown, httpStatus: number): MappedError | undefined {
  if (!isRecord(json) || !isRecord(json.error)) return undefined;
  const error = json.error;
  const code = stringField(error, 'status');
  const numeric = typeof error.code === 'number' && error.code >= 400 && error.code <= 599 ? error.code : undefined;
  const status = (code && STATUS_BY_CODE[code]) || numeric || (httpStatus >= 400 ? httpStatus : 502);
  const message = stringField(error, 'message') || `upstream returned ${code ?? `HTTP ${httpStatus}`}`;
  const retryAfter = status === 429 || status === 503 ? retryAfterSeconds(error.details) : undefined;
  return {
    status,
    body: {
      error: {
        message,
        type: openAIType(status),
        param: null,
        code: status === 429 ? 'rate_limit_exceeded' : (code?.toLowerCase() ?? null),
      },
    },
    retryAfter,
  };
}
