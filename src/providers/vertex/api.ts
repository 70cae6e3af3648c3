// provider: vertex — Gemini models on Vertex AI, per project and location, with an OAuth access token (role
// `accessToken`) from an environment variable or from a file re-read when it changes.
import { z } from 'zod';
import { backendFields, envVarName } from '../../config/backend-fields.js';
import type { ProviderApi } from '../provider-api.js';

const schema = z.strictObject({
  ...backendFields,
  provider: z.literal('vertex'),
  project: z.string().min(1),
  /** A region such as us-central1, or `global`. */
  location: z.string().regex(/^[a-z0-9-]+$/, 'expected a region such as us-central1, or global'),
  apiVersion: z.enum(['v1', 'v1beta1']).default('v1'),
  /** Environment variable holding an OAuth2 access token (refreshed by the platform, e.g. a token sidecar). */
  accessTokenEnv: envVarName.optional(),
  /** File holding an OAuth2 access token, re-read when it changes (e.g. a projected token). */
  accessTokenFile: z.string().min(1).optional(),
});

export const vertexApi: ProviderApi<typeof schema> = {
  schema,
  apiKeyHeader: 'authorization',
  defaultBaseUrl: (config) =>
    config.location === 'global'
      ? 'https://aiplatform.googleapis.com'
      : `https://${config.location}-aiplatform.googleapis.com`,
  credentials(config) {
    if (config.accessTokenEnv) return [{ role: 'accessToken', env: config.accessTokenEnv, required: true }];
    return config.accessTokenFile
      ? [{ role: 'accessToken', file: config.accessTokenFile, label: 'Vertex access token' }]
      : [];
  },
  problems: (config) =>
    (config.accessTokenEnv === undefined) === (config.accessTokenFile === undefined)
      ? [{ path: [], message: 'vertex needs exactly one of accessTokenEnv or accessTokenFile' }]
      : [],
  example: { project: 'example-project', location: 'us-central1', accessTokenEnv: 'VERTEX_ACCESS_TOKEN' },
};
