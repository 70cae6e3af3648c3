import type { ProviderKind } from '../config/schema.js';
import { openAIProvider } from './openai.js';
import type { Provider } from './provider.js';

const PROVIDERS: Record<ProviderKind, Provider> = {
  openai: openAIProvider,
  'openai-compatible': openAIProvider,
};

export function providerFor(kind: ProviderKind): Provider {
  return PROVIDERS[kind];
}
