// provider: anthropic — the Anthropic Messages API, key in `x-api-key`.
import { z } from 'zod';
import { backendFields } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({
  ...backendFields,
  provider: z.literal('anthropic'),
  anthropicVersion: z.string().min(1).default('2023-06-01'),
  /** Anthropic requires max_tokens; used when the client sends neither max_tokens nor max_completion_tokens. */
  defaultMaxTokens: z.number().int().min(1).default(4096),
});

export const anthropicApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'x-api-key',
  defaultBaseUrl: () => 'https://api.anthropic.com/v1',
  example: { apiKeyEnv: 'ANTHROPIC_API_KEY' },
};
