import type { ProviderKind } from '../config/schema.js';
import { anthropicProvider } from './anthropic/index.js';
import { bedrockProvider } from './bedrock/index.js';
import { azureOpenAIProvider } from './azure-openai.js';
import { cohereProvider } from './cohere/index.js';
import { geminiProvider } from './gemini/gemini.js';
import { vertexProvider } from './gemini/vertex.js';
import { openAICompatibleProvider } from './openai-compatible.js';
import { openAIProvider } from './openai.js';
import type { Provider } from './provider.js';

/** Provider kinds this build can translate. The config rejects the others with a clear message. */
const PROVIDERS: Partial<Record<ProviderKind, Provider>> = {
  openai: openAIProvider,
  'openai-compatible': openAICompatibleProvider,
  'azure-openai': azureOpenAIProvider,
  cohere: cohereProvider,
  anthropic: anthropicProvider,
  bedrock: bedrockProvider,
  gemini: geminiProvider,
  vertex: vertexProvider,
};

export function isImplemented(kind: ProviderKind): boolean {
  return PROVIDERS[kind] !== undefined;
}

export function providerFor(kind: ProviderKind): Provider {
  const provider = PROVIDERS[kind];
  // The config schema refuses unimplemented kinds, so this only fires on a programming error.
  if (!provider) throw new Error(`provider ${kind} is not available in this build`);
  return provider;
}

/** Every header any registered provider may set on an attempt (see Provider.requestHeaders). */
export const providerRequestHeaders: readonly string[] = [...new Set(Object.values(PROVIDERS).flatMap((p) => p.requestHeaders ?? []))];
