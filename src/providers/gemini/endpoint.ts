// Where a request goes: the Gemini API and Vertex AI differ only in the resource path (and the credential, which
// src/credentials resolves).
import { encodePathSegment, encodeResourcePath } from '../../util/path-segment.js';

export type Method = 'generateContent' | 'streamGenerateContent';

export function methodFor(stream: boolean): Method {
  return stream ? 'streamGenerateContent' : 'generateContent';
}

/** A resource name the config gave: its own segments when it is a clean path below `collections`, else one segment. */
function resourcePath(model: string, collections: readonly string[]): string | undefined {
  if (!collections.some((collection) => model.startsWith(`${collection}/`))) return undefined;
  return encodeResourcePath(model);
}

/** `{base path}{resource}:{method}`, keeping the base URL's own query and asking streams for SSE framing. */
export function methodPath(base: URL, resource: string, method: Method): string {
  const prefix = base.pathname.replace(/\/+$/, '');
  const query = new URLSearchParams(base.search);
  // Without alt=sse Gemini streams one JSON array; SSE gives whole events the decoder can cut on.
  if (method === 'streamGenerateContent') query.set('alt', 'sse');
  const search = query.toString();
  return `${prefix}/${resource}:${method}${search ? `?${search}` : ''}`;
}

/** Gemini API: models/{model}; a name with a slash (tunedModels/…, models/…) is already a resource name. */
export function geminiResource(model: string): string {
  // Only a clean path below a known collection keeps its slashes; anything else (`../../evil`) is one segment.
  return resourcePath(model, ['models', 'tunedModels']) ?? `models/${encodePathSegment(model)}`;
}

/**
 * Vertex AI: {version}/projects/{p}/locations/{l}/publishers/google/models/{model}. A model with a slash is a
 * resource below the location (e.g. endpoints/123 for a tuned model), or a full name when it starts with projects/.
 */
export function vertexResource(options: {
  apiVersion: string;
  project: string;
  location: string;
  model: string;
}): string {
  const { apiVersion, project, location, model } = options;
  const full = resourcePath(model, ['projects']);
  if (full !== undefined) return `${encodePathSegment(apiVersion)}/${full}`;
  const parent = `${encodePathSegment(apiVersion)}/projects/${encodePathSegment(project)}/locations/${encodePathSegment(location)}`;
  const below = resourcePath(model, ['endpoints', 'publishers']);
  return below !== undefined ? `${parent}/${below}` : `${parent}/publishers/google/models/${encodePathSegment(model)}`;
}
