// Azure OpenAI error bodies → OpenAI's error shape (content-filter refusals keep the category that fired).
import { normaliseErrorBody, type OpenAIErrorBody } from '../../unified/errors.js';
import { isRecord, parseJson } from '../../util/json.js';
import type { TranslatedBody } from '../provider.js';

const RETRY_AFTER_IN_MESSAGE = /retry after (\d+) seconds?/i;

/**
 * Azure errors are OpenAI-like but `type` may be null or missing, `code` may be a number-like string, and
 * content-filter refusals add `status` and `innererror`. The result has OpenAI's four fields; `innererror` is kept
 * because it says which filter category fired.
 */
export function translateAzureError(status: number, body: Buffer): TranslatedBody {
  const json = parseJson(body);
  const error = isRecord(json) && isRecord(json.error) ? json.error : undefined;
  if (!error || typeof error.message !== 'string') return { body: normaliseErrorBody(status, body), usage: undefined };
  const code = typeof error.code === 'string' ? error.code : typeof error.code === 'number' ? String(error.code) : null;
  const type =
    typeof error.type === 'string' && error.type !== ''
      ? error.type
      : status === 429
        ? 'rate_limit_error'
        : status >= 500
          ? 'server_error'
          : 'invalid_request_error';
  const unified: OpenAIErrorBody & { error: { innererror?: unknown } } = {
    error: { message: error.message, type, param: typeof error.param === 'string' ? error.param : null, code },
  };
  if (error.innererror !== undefined) unified.error.innererror = error.innererror;
  const retryAfter = status === 429 ? RETRY_AFTER_IN_MESSAGE.exec(error.message)?.[1] : undefined;
  return {
    body: Buffer.from(JSON.stringify(unified)),
    usage: undefined,
    // A content-filter refusal is the client's prompt: a 400, whatever status the API version used.
    ...(code === 'content_filter' && status !== 400 ? { status: 400 } : {}),
    ...(retryAfter ? { headers: { 'retry-after': retryAfter } } : {}),
  };
}
