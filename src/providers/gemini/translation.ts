// What the Gemini API and Vertex AI providers share: request checks and response translation.
import type { ChatRequest } from '../../unified/chat-request.js';
import type { Provider } from '../provider.js';
import { toGeminiRequest } from './request.js';
import { translateResponse } from './response.js';
import { GeminiStreamTranslator } from './stream.js';

export const geminiTranslation: Omit<Provider, 'buildRequest'> = {
  // The translation is pure and cheap, so checking is translating: whatever it refuses is refused up front.
  checkRequest: (request: ChatRequest, _backend, upstreamModel) => void toGeminiRequest(request, upstreamModel),
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  translateResponse,
  createStreamTranslator: (context) => new GeminiStreamTranslator(context),
};
