// One factory for every OpenAI-shaped backend kind (OpenAI, Azure OpenAI, OpenAI-compatible servers): what differs
// between them is an `OpenAIFlavour`, not a fork of the translators.
import type { ResolvedBackend } from '../../config/topology.js';
import type { ChatRequest } from '../../unified/chat-request.js';
import { credentialHeaders } from '../http.js';
import type { Provider, UpstreamRequest, UpstreamTarget } from '../provider.js';
import { openAIRequestBody } from './request.js';
import { translateWholeBody, type WholeBodyQuirks } from './response.js';
import { OpenAIStreamTranslator, type OpenAIStreamQuirks } from './stream.js';

/** What distinguishes one OpenAI-shaped backend kind from another. */
export interface OpenAIFlavour extends WholeBodyQuirks {
  /** Full request path (incl. query) for one attempt. */
  path(target: UpstreamTarget): string;
  /** Last edits to the outbound body (compat quirks); the default sends the unified body unchanged. */
  adjustBody?(body: Record<string, unknown>, target: UpstreamTarget): Record<string, unknown>;
  checkRequest?(request: ChatRequest, backend: ResolvedBackend): void;
  readonly stream?: OpenAIStreamQuirks;
}

/** A Provider for one OpenAI-shaped backend kind. */
export function createOpenAIProvider(flavour: OpenAIFlavour): Provider {
  return {
    checkRequest: (request, backend) => flavour.checkRequest?.(request, backend),
    buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
      const base = openAIRequestBody(request, target.upstreamModel);
      const body = flavour.adjustBody ? flavour.adjustBody(base, target) : base;
      return {
        path: flavour.path(target),
        headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
        body: Buffer.from(JSON.stringify(body)),
      };
    },
    isStream: (contentType) => contentType.startsWith('text/event-stream'),
    translateResponse: (status, body) => translateWholeBody(status, body, flavour),
    createStreamTranslator: (context) => new OpenAIStreamTranslator(context, flavour.stream),
  };
}
