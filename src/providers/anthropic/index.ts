// The Anthropic Messages provider (`provider: anthropic`). Mapping tables and choices: docs/providers/anthropic.md.
import type { Provider } from '../provider.js';
import { buildAnthropicRequest, checkAnthropicRequest } from './request.js';
import { translateWholeResponse } from './response.js';
import { createAnthropicStreamTranslator } from './stream.js';

export const anthropicProvider: Provider = {
  requestHeaders: ['anthropic-version', 'anthropic-beta'],
  checkRequest: checkAnthropicRequest,
  buildRequest: buildAnthropicRequest,
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  translateResponse: translateWholeResponse,
  createStreamTranslator: createAnthropicStreamTranslator,
};
