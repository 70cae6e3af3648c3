// Azure OpenAI: OpenAI's wire format on Azure's paths and key header. Two surfaces:
//  - deployment route  /openai/deployments/{deployment}/chat/completions?api-version=…  (the body's model is ignored)
//  - v1 route          /openai/v1/chat/completions  (no api-version; the body's model names the deployment)
// Responses keep Azure's content-filter annotations; the one stream chunk that carries nothing else is dropped.
import { encodePathSegment } from '../util/path-segment.js';
import type { BackendConfig } from '../config/schema.js';
import type { OpenAIErrorBody } from '../unified/errors.js';
import { isRecord, parseJson } from '../util/json.js';
import { createOpenAIProvider, joinPath, normaliseErrorBody } from './openai.js';
import type { Provider, TranslatedBody, UpstreamTarget } from './provider.js';

type AzureConfig = Extract<BackendConfig, { provider: 'azure-openai' }>;

function azureConfig(target: UpstreamTarget): AzureConfig {
  const config = target.backend.config;
  // The registry only hands azure-openai backends to this provider.
  if (config.provider !== 'azure-openai') throw new Error(`backend ${target.backend.name} is not an azure-openai backend`);
  return config;
}

/** The resource endpoint without a trailing `/openai` or `/openai/v1` someone may have copied from the portal. */
function resourceBase(base: URL): URL {
  const url = new URL(base.href);
  url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/openai(\/v1)?$/, '');
  url.search = '';
  return url;
}

export function azurePath(target: UpstreamTarget): string {
  const config = azureConfig(target);
  const base = resourceBase(target.backend.baseUrl);
  if (config.deployment === undefined) return joinPath(base, '/openai/v1/chat/completions');
  const deployment = encodePathSegment(config.deployment);
  return `${joinPath(base, `/openai/deployments/${deployment}/chat/completions`)}?api-version=${encodeURIComponent(config.apiVersion)}`;
}

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

export const azureOpenAIProvider: Provider = createOpenAIProvider({
  path: azurePath,
  translateError: translateAzureError,
  stream: { dropFilterOnlyChunks: true },
});
