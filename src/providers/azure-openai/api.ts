// provider: azure-openai — an Azure OpenAI resource (its endpoint is per resource), key in `api-key`.
import { z } from 'zod';
import { backendFields } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({
  ...backendFields,
  provider: z.literal('azure-openai'),
  /** Deployment name for the classic /openai/deployments/{d}/… route; omit to use the /openai/v1 route. */
  deployment: z.string().min(1).optional(),
  /** api-version query parameter for the deployment route. */
  apiVersion: z.string().min(1).default('2024-10-21'),
});
export type AzureOpenAIConfig = z.output<typeof schema>;

export const azureOpenAIApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'api-key',
  // The endpoint depends on the resource, so the config must say where it is.
  defaultBaseUrl: () => undefined,
  example: {
    apiKeyEnv: 'AZURE_OPENAI_API_KEY',
    baseUrl: 'https://example-resource.openai.azure.com',
    deployment: 'example-deployment',
  },
};
