// Unified request → Anthropic Messages request (POST {baseUrl}/messages). Pure: every refusal is a 400
// UnifiedError naming the field, so checkRequest can run the very same translation before anything leaves.
import type { ResolvedBackend } from '../../config/topology.js';
import type { ChatRequest } from '../../unified/chat-request.js';
import { credentialHeaders, joinPath } from '../http.js';
import type { UpstreamRequest, UpstreamTarget } from '../provider.js';
import { toConversation } from './messages.js';
import { generationFields } from './parameters.js';
import { outputFormat, toolFields } from './tools.js';
import type { AnthropicOutputConfig, AnthropicRequest } from './wire.js';

export interface AnthropicOptions {
  readonly anthropicVersion: string;
  readonly defaultMaxTokens: number;
}

/** The schema's defaults, for a backend whose config is (by a programming error) not an Anthropic one. */
const DEFAULT_OPTIONS: AnthropicOptions = { anthropicVersion: '2023-06-01', defaultMaxTokens: 4096 };

export function anthropicOptions(backend: ResolvedBackend): AnthropicOptions {
  const config = backend.config;
  if (config.provider !== 'anthropic') return DEFAULT_OPTIONS;
  return { anthropicVersion: config.anthropicVersion, defaultMaxTokens: config.defaultMaxTokens };
}

export function toAnthropicRequest(request: ChatRequest, model: string, options: AnthropicOptions): AnthropicRequest {
  const { system, turns } = toConversation(request.messages);
  const { effort, ...generation } = generationFields(request, options);
  const out: AnthropicRequest = { model, messages: turns, ...generation, ...toolFields(request) };
  if (system.length > 0) out.system = system;
  const format = outputFormat(request);
  if (format || effort) {
    const config: AnthropicOutputConfig = {};
    if (format) config.format = format;
    if (effort) config.effort = effort;
    out.output_config = config;
  }
  if (request.stream === true) out.stream = true;
  return out;
}

export function buildAnthropicRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  const options = anthropicOptions(target.backend);
  const body = toAnthropicRequest(request, target.upstreamModel, options);
  return {
    path: joinPath(target.backend.baseUrl, '/messages'),
    headers: {
      'content-type': 'application/json',
      'anthropic-version': options.anthropicVersion,
      // Static backend headers (e.g. anthropic-beta) and the key: x-api-key by default, or a Bearer token.
      ...credentialHeaders(target),
    },
    body: Buffer.from(JSON.stringify(body)),
  };
}

/** Router stage: the same translation, discarded; whatever passes here, buildRequest can build. */
export function checkAnthropicRequest(request: ChatRequest, backend: ResolvedBackend): void {
  toAnthropicRequest(request, 'model', anthropicOptions(backend));
}
