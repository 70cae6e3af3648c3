// Azure OpenAI paths: the deployment route (with api-version) or the v1 route, below the resource endpoint.
import { encodePathSegment } from '../../util/path-segment.js';
import { joinPath } from '../http.js';
import type { UpstreamTarget } from '../provider.js';
import type { AzureOpenAIConfig } from './api.js';

function azureConfig(target: UpstreamTarget): AzureOpenAIConfig {
  const config = target.backend.config;
  // The registry only hands azure-openai backends to this provider.
  if (config.provider !== 'azure-openai')
    throw new Error(`backend ${target.backend.name} is not an azure-openai backend`);
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
