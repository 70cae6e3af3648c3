// OpenAI and OpenAI-shaped backends (OpenAI itself, Azure OpenAI, vLLM, Ollama, Groq, Mistral, …): the wire
// format is already unified, so the request only gets the backend's model name, credentials and path, and
// responses pass through byte for byte unless something must change (the usage chunk the client did not ask for,
// a non-OpenAI error shape, or a quirk of a compatible server that `OpenAIFlavour` switches on).
import { joinPath } from '../http.js';
import type { Provider } from '../provider.js';
import { createOpenAIProvider } from './flavour.js';

export const openAIProvider: Provider = createOpenAIProvider({
  path: (target) => joinPath(target.backend.baseUrl, '/chat/completions'),
});
