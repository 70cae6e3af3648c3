// provider: vertex — Gemini models on Vertex AI, with an OAuth access token from the environment (resolved by the
// topology as credentials 'accessToken') or from a file re-read when it changes.
import type { ChatRequest } from '../../unified/chat-request.js';
import { credentialHeaders } from '../openai.js';
import type { Provider, UpstreamRequest, UpstreamTarget } from '../provider.js';
import { TokenFileReader, methodFor, methodPath, vertexResource } from './endpoint.js';
import { geminiTranslation, jsonBody } from './translation.js';

const tokenFiles = new TokenFileReader();

function accessToken(target: UpstreamTarget): string {
  const { backend } = target;
  const fromEnv = backend.credentials.get('accessToken');
  if (fromEnv) return fromEnv.reveal();
  if (backend.config.provider === 'vertex' && backend.config.accessTokenFile) return tokenFiles.read(backend.config.accessTokenFile);
  // The schema requires one token source, so this only fires on a programming error.
  throw new Error(`backend ${backend.name} has no Vertex access token source`);
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
