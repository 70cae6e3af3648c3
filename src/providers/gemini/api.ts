// provider: gemini — the Gemini API (generativelanguage.googleapis.com), key in `x-goog-api-key`.
import { plainProviderApi } from '../provider-api.js';

export const geminiApi = plainProviderApi('gemini', {
  baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
  apiKeyHeader: 'x-goog-api-key',
  apiKeyEnv: 'GEMINI_API_KEY',
});
