// Every provider kind this build knows, by the `provider` value a backend entry names: THE registry line a new
// provider adds. Only the descriptors (api.ts) are imported here, never translators, so config/ can read this
// file without depending on translation code (which depends on config types).
import { anthropicApi } from './anthropic/api.js';
import { azureOpenAIApi } from './azure-openai/api.js';
import { bedrockApi } from './bedrock/api.js';
import { cohereApi } from './cohere/api.js';
import { geminiApi } from './gemini/api.js';
import { openAIApi } from './openai/api.js';
import { openAICompatibleApi } from './openai-compatible/api.js';
import type { BackendRules } from './provider-api.js';
import type { z } from 'zod';
import { vertexApi } from './vertex/api.js';

export const PROVIDER_APIS = {
  openai: openAIApi,
  'openai-compatible': openAICompatibleApi,
  'azure-openai': azureOpenAIApi,
  anthropic: anthropicApi,
  gemini: geminiApi,
  vertex: vertexApi,
  bedrock: bedrockApi,
  cohere: cohereApi,
} as const;

export type ProviderKind = keyof typeof PROVIDER_APIS;
// Object.keys is typed string[]; the keys of this literal are exactly ProviderKind.
export const PROVIDER_KINDS = Object.keys(PROVIDER_APIS) as ProviderKind[];

type BackendSchema = (typeof PROVIDER_APIS)[ProviderKind]['schema'];
const schemas: BackendSchema[] = Object.values(PROVIDER_APIS).map((api) => api.schema);
const [firstSchema, ...otherSchemas] = schemas;
if (firstSchema === undefined) throw new Error('no provider is registered');
/** One schema per provider, for the backend entry's discriminated union. */
export const BACKEND_SCHEMAS: readonly [BackendSchema, ...BackendSchema[]] = [firstSchema, ...otherSchemas];

/** The backend config of any provider (the union the config schema parses). */
export type AnyBackendConfig = { [K in ProviderKind]: z.output<(typeof PROVIDER_APIS)[K]['schema']> }[ProviderKind];

/**
 * The rules of the provider a backend entry names. The discriminated union pairs every entry with its own
 * provider, so each provider's rules only ever see configs of their own kind.
 */
export function backendRules(kind: ProviderKind): BackendRules<AnyBackendConfig> {
  return PROVIDER_APIS[kind];
}
