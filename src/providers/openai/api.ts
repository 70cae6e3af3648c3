// provider: openai — api.openai.com, key as a bearer token.
import { z } from 'zod';
import { backendFields } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({ ...backendFields, provider: z.literal('openai') });

export const openAIApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'authorization',
  defaultBaseUrl: () => 'https://api.openai.com/v1',
  example: { apiKeyEnv: 'OPENAI_API_KEY' },
};
