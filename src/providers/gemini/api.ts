// provider: gemini — the Gemini API (generativelanguage.googleapis.com), key in `x-goog-api-key`.
import { z } from 'zod';
import { backendFields } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({ ...backendFields, provider: z.literal('gemini') });

export const geminiApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'x-goog-api-key',
  defaultBaseUrl: () => 'https://generativelanguage.googleapis.com/v1beta',
  example: { apiKeyEnv: 'GEMINI_API_KEY' },
};
