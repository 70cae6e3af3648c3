// provider: gemini — the Gemini API (generativelanguage.googleapis.com), key in x-goog-api-key.
import type { Provider } from '../provider.js';
import { buildGeminiRequest } from './request.js';
import { geminiTranslation } from './translation.js';

export const geminiProvider: Provider = { ...geminiTranslation, buildRequest: buildGeminiRequest };
