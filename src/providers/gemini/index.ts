// provider: gemini — the Gemini API (generativelanguage.googleapis.com), key in x-goog-api-key.
import type { ChatRequest } from '../../unified/chat-request.js';
import { credentialHeaders } from '../http.js';
import type { Provider, UpstreamRequest, UpstreamTarget } from '../provider.js';
import { geminiResource, methodFor, methodPath } from './endpoint.js';
import { geminiTranslation, jsonBody } from './translation.js';

function buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  return {
    path: methodPath(target.backend.baseUrl, geminiResource(target.upstreamModel), methodFor(request.stream === true)),
    headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
    body: jsonBody(request, target.upstreamModel),
  };
}

export const geminiProvider: Provider = { ...geminiTranslation, buildRequest };
