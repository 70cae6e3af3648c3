// Bedrock errors → OpenAI's error shape. HTTP errors arrive as `{"message"}` with the exception name in the
// `x-amzn-errortype` header, which the translator does not see (the router passes it on to the client), so the
// HTTP status picks the mapping; in-stream exceptions name themselves in `:exception-type`.
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { isRecord, parseJson } from '../../util/json.js';

export interface MappedError {
  /** Status the client sees (the upstream's unless it means nothing to an OpenAI client). */
  readonly status: number;
  readonly body: OpenAIErrorBody;
}

interface Kind {
  readonly status: number;
  readonly type: string;
}

const INVALID: Kind = { status: 400, type: 'invalid_request_error' };

/** Status codes from the service model; 408 and 424 mean nothing to OpenAI clients and are re-expressed. */
const BY_STATUS: Readonly<Record<number, Kind>> = {
  400: INVALID, // ValidationException, ConflictException, ServiceQuotaExceededException
  401: { status: 401, type: 'authentication_error' },
  403: { status: 403, type: 'permission_error' }, // AccessDeniedException
  404: { status: 404, type: 'invalid_request_error' }, // ResourceNotFoundException (model id, profile)
  408: { status: 504, type: 'server_error' }, // ModelTimeoutException: the model took too long (a gateway timeout)
  424: { status: 502, type: 'server_error' }, // ModelErrorException: the model behind Bedrock failed (a bad gateway)
  429: { status: 429, type: 'rate_limit_error' }, // ThrottlingException, ModelNotReadyException
  500: { status: 500, type: 'server_error' }, // InternalServerException
  503: { status: 503, type: 'server_error' }, // ServiceUnavailableException
};

/** In-stream exception names (event-stream `:exception-type`, lower camel case) and HTTP ones alike. */
const BY_EXCEPTION: Readonly<Record<string, Kind>> = {
  validationexception: INVALID,
  throttlingexception: BY_STATUS[429]!,
  modelstreamerrorexception: BY_STATUS[424]!,
  internalserverexception: BY_STATUS[500]!,
  serviceunavailableexception: BY_STATUS[503]!,
  modeltimeoutexception: BY_STATUS[408]!,
};

function kindForStatus(status: number): Kind {
  return (
    BY_STATUS[status] ?? (status >= 500 ? { status, type: 'server_error' } : { status, type: 'invalid_request_error' })
  );
}

/** The `message` of a Bedrock error body (some services spell it `Message`), else the raw text. */
export function errorMessage(body: Buffer | string, fallback: string): string {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const json = parseJson(text);
  if (isRecord(json)) {
    for (const key of ['message', 'Message'] as const) {
      const value = json[key];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  // Not JSON, or no message in it: the text itself.
  return text.trim().slice(0, 500) || fallback;
}

function shape(kind: Kind, message: string, code: string | null): OpenAIErrorBody {
  return { error: { message, type: kind.type, param: null, code } };
}

/** A non-2xx Converse response. */
export function mapHttpError(status: number, body: Buffer): MappedError {
  const kind = kindForStatus(status);
  const message = errorMessage(body, `Bedrock returned HTTP ${status}`);
  return { status: kind.status, body: shape(kind, message, null) };
}

/** An event-stream exception (`:message-type: exception`), e.g. throttlingException. */
export function mapStreamException(exceptionType: string, payload: Buffer): OpenAIErrorBody {
  const kind = BY_EXCEPTION[exceptionType.toLowerCase()] ?? { status: 500, type: 'server_error' };
  return shape(kind, errorMessage(payload, `Bedrock stream failed with ${exceptionType}`), exceptionType);
}

/** A failure of the stream itself (framing, checksum, truncation) rather than one Bedrock reported. */
export function streamFailure(message: string, code: string): OpenAIErrorBody {
  return shape({ status: 502, type: 'server_error' }, message, code);
}
