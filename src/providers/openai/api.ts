// provider: openai — api.openai.com, key as a bearer token.
import { plainProviderApi } from '../provider-api.js';

export const openAIApi = plainProviderApi('openai', {
  baseUrl: 'https://api.openai.com/v1',
  apiKeyHeader: 'authorization',
  apiKeyEnv: 'OPENAI_API_KEY',
});
