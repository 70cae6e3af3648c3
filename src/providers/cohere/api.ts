// provider: cohere — Cohere v2 Chat, key as a bearer token.
import { z } from 'zod';
import { backendFields } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({ ...backendFields, provider: z.literal('cohere') });

export const cohereApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'authorization',
  defaultBaseUrl: () => 'https://api.cohere.com/v2',
  example: { apiKeyEnv: 'COHERE_API_KEY' },
};
