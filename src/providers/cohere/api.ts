// provider: cohere — Cohere v2 Chat, key as a bearer token.
import { plainProviderApi } from '../provider-api.js';

export const cohereApi = plainProviderApi('cohere', {
  baseUrl: 'https://api.cohere.com/v2',
  apiKeyHeader: 'authorization',
  apiKeyEnv: 'COHERE_API_KEY',
});
