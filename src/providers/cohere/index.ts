// Cohere v2 Chat (POST {baseUrl}/chat, Bearer key). See docs/providers/cohere.md for the full mapping.
import type { Provider } from '../provider.js';
import { credentialHeaders, joinPath } from '../http.js';
import { checkCohereRequest, toCohereRequest } from './request.js';
import { translateCohereResponse } from './response.js';
import { CohereStreamTranslator } from './stream.js';

export const cohereProvider: Provider = {
  checkRequest: (request) => checkCohereRequest(request),
  buildRequest: (request, target) => ({
    path: joinPath(target.backend.baseUrl, '/chat'),
    headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
    body: Buffer.from(JSON.stringify(toCohereRequest(request, target.upstreamModel))),
  }),
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  translateResponse: (status, body, context) => translateCohereResponse(status, body, context),
  createStreamTranslator: (context) => new CohereStreamTranslator(context),
};
