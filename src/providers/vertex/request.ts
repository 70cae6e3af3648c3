// Vertex AI requests: Gemini's body on Vertex's resource path, with the access token src/credentials resolved.
import type { ChatRequest } from '../../unified/chat-request.js';
import { methodFor, methodPath, vertexResource } from '../gemini/endpoint.js';
import { jsonBody } from '../gemini/request.js';
import { credentialHeaders } from '../http.js';
import type { UpstreamRequest, UpstreamTarget } from '../provider.js';

function accessToken(target: UpstreamTarget): string {
  const token = target.credentials.roles.get('accessToken');
  // The schema requires one token source and src/credentials resolves it, so this only fires on a programming error.
  if (!token) throw new Error(`backend ${target.backend.name} has no Vertex access token`);
  return token.reveal();
}

export function buildVertexRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  const { config } = target.backend;
  if (config.provider !== 'vertex') throw new Error(`backend ${target.backend.name} is not a vertex backend`);
  const resource = vertexResource({
    apiVersion: config.apiVersion,
    project: config.project,
    location: config.location,
    model: target.upstreamModel,
  });
  return {
    path: methodPath(target.backend.baseUrl, resource, methodFor(request.stream === true)),
    // Static headers (and a key, if one is configured) first; the bearer token always owns authorization.
    headers: {
      'content-type': 'application/json',
      ...credentialHeaders(target),
      authorization: `Bearer ${accessToken(target)}`,
    },
    body: jsonBody(request, target.upstreamModel),
  };
}
