// Cohere v2 Chat (POST {baseUrl}/chat, Bearer key). See docs/providers/cohere.md for the full mapping.
import type { Provider } from '../provider.js';
import { buildCohereRequest, checkCohereRequest } from './request.js';
import { translateCohereResponse } from './response.js';
import { CohereStreamTranslator } from './stream.js';

export const cohereProvider: Provider = {
  checkRequest: (request) => checkCohereRequest(request),
  buildRequest: buildCohereRequest,
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  translateResponse: (status, body, context) => translateCohereResponse(status, body, context),
  createStreamTranslator: (context) => new CohereStreamTranslator(context),
};
