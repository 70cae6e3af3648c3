// AWS Bedrock Converse / ConverseStream. Requests are signed with SigV4 (signing name `bedrock`) from the
// backend's AWS credentials, or carry a Bedrock API key as a bearer token when `apiKeyEnv` is configured.
import type { Provider } from '../provider.js';
import { buildConverseRequest, toConverseRequest } from './request.js';
import { translateResponse } from './response.js';
import { BedrockStreamTranslator } from './stream.js';

export const bedrockProvider: Provider = {
  requestHeaders: ['x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'],
  checkRequest: (request, _backend, upstreamModel) => {
    toConverseRequest(request, upstreamModel);
  },
  buildRequest: buildConverseRequest,
  isStream: (contentType) => contentType.toLowerCase().startsWith('application/vnd.amazon.eventstream'),
  translateResponse,
  createStreamTranslator: (context) => new BedrockStreamTranslator(context),
};
