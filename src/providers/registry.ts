// The translators by provider kind. The kinds themselves (and each one's config fragment) are listed in apis.ts;
// this record must name a translator for every one of them, or the build fails.
import { anthropicProvider } from './anthropic/index.js';
import type { ProviderKind } from './apis.js';
import { azureOpenAIProvider } from './azure-openai/index.js';
import { bedrockProvider } from './bedrock/index.js';
import { cohereProvider } from './cohere/index.js';
import { geminiProvider } from './gemini/index.js';
import { openAICompatibleProvider } from './openai-compatible/index.js';
import { openAIProvider } from './openai/index.js';
import type { Provider } from './provider.js';
import { vertexProvider } from './vertex/index.js';

const PROVIDERS: Record<ProviderKind, Provider> = {
  openai: openAIProvider,
  'openai-compatible': openAICompatibleProvider,
  'azure-openai': azureOpenAIProvider,
  cohere: cohereProvider,
  anthropic: anthropicProvider,
  bedrock: bedrockProvider,
  gemini: geminiProvider,
  vertex: vertexProvider,
};

export function providerFor(kind: ProviderKind): Provider {
  return PROVIDERS[kind];
}

/** Every header any registered provider may set on an attempt (see Provider.requestHeaders). */
export const providerRequestHeaders: readonly string[] = [
  ...new Set(Object.values(PROVIDERS).flatMap((p) => p.requestHeaders ?? [])),
];
