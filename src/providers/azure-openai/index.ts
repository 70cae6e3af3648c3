// Azure OpenAI: OpenAI's wire format on Azure's paths and key header. Two surfaces:
//  - deployment route  /openai/deployments/{deployment}/chat/completions?api-version=…  (the body's model is ignored)
//  - v1 route          /openai/v1/chat/completions  (no api-version; the body's model names the deployment)
// Responses keep Azure's content-filter annotations; the one stream chunk that carries nothing else is dropped.
import { createOpenAIProvider } from '../openai/flavour.js';
import type { Provider } from '../provider.js';
import { translateAzureError } from './errors.js';
import { azurePath } from './request.js';

export const azureOpenAIProvider: Provider = createOpenAIProvider({
  path: azurePath,
  translateError: translateAzureError,
  stream: { dropFilterOnlyChunks: true },
});
