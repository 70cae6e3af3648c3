// HTTP pieces every provider's buildRequest shares: where the path goes below the base URL, and the key header.
import type { UpstreamTarget } from './provider.js';

/** `suffix` below the base URL's path prefix, keeping the base URL's own query (e.g. an api-version). */
export function joinPath(base: URL, suffix: string): string {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return `${prefix}${suffix}${base.search}`;
}

/** The backend's static headers plus its API key in its key header (`authorization` takes a bearer token). */
export function credentialHeaders(target: UpstreamTarget): Record<string, string> {
  const { backend } = target;
  const { apiKey } = target.credentials;
  const headers: Record<string, string> = { ...backend.headers };
  if (apiKey)
    headers[backend.apiKeyHeader] =
      backend.apiKeyHeader === 'authorization' ? `Bearer ${apiKey.reveal()}` : apiKey.reveal();
  return headers;
}
