// provider: vertex — Gemini models on Vertex AI: Gemini's translation (../gemini) on Vertex's resource path, with
// the OAuth access token src/credentials resolved (role `accessToken`, from the environment or a token file).
import type { ChatRequest } from '../../unified/chat-request.js';
import { credentialHeaders } from '../http.js';
import type { Provider, UpstreamRequest, UpstreamTarget } from '../provider.js';
import { methodFor, methodPath, vertexResource } from '../gemini/endpoint.js';
import { geminiTranslation, jsonBody } from '../gemini/translation.js';

function accessToken(target: UpstreamTarget): string {
  const token = target.credentials.roles.get('accessToken');
  // The schema requires one token source and src/credentials resolves it, so this only fires on a programming error.
  if (!token) throw new Error(`backend ${target.backend.name} has no Vertex access token`);
  return token.reveal();
}

function buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  const { config } = target.backend;
  if (config.provider !== 'vertex') throw new Error(`backend ${target.backend.name} is not a vertex backend`);
  const resource = vertexResource({ apiVersion: config.apiVersion, project: config.project, location: config.location, model: target.upstreamModel });
  return {
    path: methodPath(target.backend.baseUrl, resource, methodFor(request.stream === true)),
    // Static headers (and a key, if one is configured) first; the bearer token always owns authorization.
    headers: { 'content-type': 'application/json', ...credentialHeaders(target), authorization: `Bearer ${accessToken(target)}` },
    body: jsonBody(request, target.upstreamModel),
  };
}

export const vertexProvider: Provider = { ...geminiTranslation, buildRequest };
