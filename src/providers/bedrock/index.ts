// AWS Bedrock Converse / ConverseStream. Requests are signed with SigV4 (signing name `bedrock`) from the
// backend's AWS credentials, or carry a Bedrock API key as a bearer token when `apiKeyEnv` is configured.
import type { ResolvedBackend } from '../../config/topology.js';
import type { ChatRequest } from '../../unified/chat-request.js';
import { credentialHeaders, joinPath } from '../http.js';
import type { Provider, UpstreamRequest, UpstreamTarget } from '../provider.js';
import { toConverseRequest } from './request.js';
import { translateResponse } from './response.js';
import { signRequest, uriEncode } from './sigv4.js';
import { BedrockStreamTranslator } from './stream.js';

/** SigV4 signing name of bedrock-runtime (its endpoint prefix differs). */
export const SIGNING_NAME = 'bedrock';

/**
 * The model id is ONE path segment: `:` (versions) and `/` (ARNs) are percent-encoded, e.g.
 * `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-v1:0`.
 */
export function conversePath(baseUrl: URL, modelId: string, stream: boolean): string {
  // A dot segment (`..`) would survive uriEncode and walk up the path: dots alone are escaped as well.
  const segment = /^\.+$/.test(modelId) ? modelId.replace(/\./g, '%2E') : uriEncode(modelId);
  return joinPath(baseUrl, `/model/${segment}/${stream ? 'converse-stream' : 'converse'}`);
}

function regionOf(backend: ResolvedBackend): string {
  // The registry only hands bedrock backends to this provider; the config schema requires the region.
  if (backend.config.provider !== 'bedrock') throw new Error(`backend ${backend.name} is not a bedrock backend`);
  return backend.config.region;
}

function authorise(target: UpstreamTarget, path: string, headers: Record<string, string>, body: Buffer): Record<string, string> {
  const { backend, credentials } = target;
  if (credentials.apiKey) return { ...credentialHeaders(target), ...headers };
  const accessKeyId = credentials.roles.get('accessKeyId');
  const secretAccessKey = credentials.roles.get('secretAccessKey');
  // The topology disables a backend whose credentials are missing, so this only fires on a programming error.
  if (!accessKeyId || !secretAccessKey) throw new Error(`backend ${backend.name} has neither an API key nor AWS credentials`);
  const signed = signRequest(
    // Envoy's auto_host_rewrite sends the endpoint's hostname, which the config keeps equal to the base URL's.
    { method: 'POST', host: backend.baseUrl.host, path, headers: { ...backend.headers, ...headers }, body },
    {
      credentials: {
        accessKeyId: accessKeyId.reveal(),
        secretAccessKey: secretAccessKey.reveal(),
        sessionToken: credentials.roles.get('sessionToken')?.reveal(),
      },
      region: regionOf(backend),
      service: SIGNING_NAME,
      now: target.now,
    },
  );
  return signed.headers;
}

function buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  const body = Buffer.from(JSON.stringify(toConverseRequest(request, target.upstreamModel)));
  const path = conversePath(target.backend.baseUrl, target.upstreamModel, request.stream === true);
  return { path, headers: authorise(target, path, { 'content-type': 'application/json' }, body), body };
}

export const bedrockProvider: Provider = {
  requestHeaders: ['x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'],
  checkRequest: (request, _backend, upstreamModel) => {
    toConverseRequest(request, upstreamModel);
  },
  buildRequest,
  isStream: (contentType) => contentType.toLowerCase().startsWith('application/vnd.amazon.eventstream'),
  translateResponse,
  createStreamTranslator: (context) => new BedrockStreamTranslator(context),
};
