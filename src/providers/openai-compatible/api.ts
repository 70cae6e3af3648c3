// provider: openai-compatible — any server that speaks OpenAI's format (vLLM, Ollama, Groq, Mistral, …): the config
// says where it is, and `compat` switches its quirks on.
import { z } from 'zod';
import { backendFields } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

/** Per-backend quirks of OpenAI-compatible servers: options, not forks. */
const compatSchema = z
  .strictObject({
    /** Rewrite tool-call ids to the 9-character alphanumeric form Mistral requires (and map them back). */
    toolCallIds: z.enum(['as-is', 'mistral']).default('as-is'),
    /** Field name the server uses for the sampling seed (Mistral: random_seed). */
    seedField: z.string().min(1).default('seed'),
    /** Request fields the server rejects; dropped before sending (documented drop), e.g. Groq's logprobs. */
    dropFields: z.array(z.string().min(1)).default([]),
    /** Largest `n` the server accepts (Groq: 1); larger requests get a 400. */
    maxN: z.number().int().min(1).optional(),
  })
  .prefault({});

const schema = z.strictObject({ ...backendFields, provider: z.literal('openai-compatible'), compat: compatSchema });
export type OpenAICompatibleConfig = z.output<typeof schema>;

export const openAICompatibleApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'authorization',
  // The endpoint depends on the deployment, so the config must say where it is.
  defaultBaseUrl: () => undefined,
  example: { apiKeyEnv: 'COMPATIBLE_API_KEY', baseUrl: 'http://127.0.0.1:8000/v1' },
};
