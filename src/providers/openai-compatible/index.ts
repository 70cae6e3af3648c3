// OpenAI-compatible servers (vLLM, Ollama, Groq, Mistral, …): OpenAI's wire format with per-backend quirks,
// switched on by the backend's `compat` options rather than by forking the translator.
//  - toolCallIds: mistral  every tool-call id in the request becomes a 9-character [a-zA-Z0-9] id
//  - seedField             `seed` is sent under the server's name for it (Mistral: random_seed)
//  - dropFields            fields the server rejects are dropped (documented), incl. `messages[].name`
//  - maxN                  `n` above it is a 400 before anything leaves
// Streams are repaired where compatible servers differ from OpenAI (tool-call deltas without index/type, usage on
// the finish chunk, finish reasons outside OpenAI's set).
import { joinPath } from '../http.js';
import { createOpenAIProvider } from '../openai/flavour.js';
import type { Provider, UpstreamTarget } from '../provider.js';
import { applyCompat, checkCompatRequest, compatOf } from './request.js';

export const openAICompatibleProvider: Provider = createOpenAIProvider({
  path: (target: UpstreamTarget) => joinPath(target.backend.baseUrl, '/chat/completions'),
  adjustBody: (body, target) => applyCompat(body, compatOf(target.backend)),
  checkRequest: checkCompatRequest,
  repairWholeBodies: true,
  stream: { repairChunks: true },
});
