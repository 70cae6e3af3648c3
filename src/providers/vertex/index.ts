// provider: vertex — Gemini models on Vertex AI: Gemini's translation (../gemini) on Vertex's resource path, with
// the OAuth access token src/credentials resolved (role `accessToken`, from the environment or a token file).
import { geminiTranslation } from '../gemini/translation.js';
import type { Provider } from '../provider.js';
import { buildVertexRequest } from './request.js';

export const vertexProvider: Provider = { ...geminiTranslation, buildRequest: buildVertexRequest };
