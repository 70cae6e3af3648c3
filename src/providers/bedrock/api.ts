// provider: bedrock — bedrock-runtime in one AWS region. Requests are signed with SigV4 from AWS credentials in the
// environment, or carry a Bedrock API key as a bearer token when `apiKeyEnv` is configured.
import { z } from 'zod';
import { backendFields, envVarName } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({
  ...backendFields,
  provider: z.literal('bedrock'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region, e.g. us-east-1'),
  accessKeyIdEnv: envVarName.default('AWS_ACCESS_KEY_ID'),
  secretAccessKeyEnv: envVarName.default('AWS_SECRET_ACCESS_KEY'),
  sessionTokenEnv: envVarName.default('AWS_SESSION_TOKEN'),
});

export const bedrockApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'authorization',
  defaultBaseUrl: (config) => `https://bedrock-runtime.${config.region}.amazonaws.com`,
  credentials: (config) =>
    // An API key (bearer) replaces SigV4 credentials entirely.
    config.apiKeyEnv
      ? []
      : [
          { role: 'accessKeyId', env: config.accessKeyIdEnv, required: true },
          { role: 'secretAccessKey', env: config.secretAccessKeyEnv, required: true },
          { role: 'sessionToken', env: config.sessionTokenEnv, required: false },
        ],
  example: { region: 'us-east-1' },
};
