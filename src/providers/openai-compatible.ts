// OpenAI-compatible servers (vLLM, Ollama, Groq, Mistral, …): OpenAI's wire format with per-backend quirks,
// switched on by the backend's `compat` options rather than by forking the translator.
//  - toolCallIds: mistral  every tool-call id in the request becomes a 9-character [a-zA-Z0-9] id
//  - seedField             `seed` is sent under the server's name for it (Mistral: random_seed)
//  - dropFields            fields the server rejects are dropped (documented), incl. `messages[].name`
//  - maxN                  `n` above it is a 400 before anything leaves
// Streams are repaired where compatible servers differ from OpenAI (tool-call deltas without index/type, usage on
// the finish chunk, finish reasons outside OpenAI's set).
import { createHash } from 'node:crypto';
import type { ResolvedBackend } from '../config/topology.js';
import type { BackendConfig } from '../config/schema.js';
import type { ChatRequest } from '../unified/chat-request.js';
import { UnifiedError } from '../unified/errors.js';
import { isRecord } from '../util/json.js';
import { createOpenAIProvider, joinPath } from './openai.js';
import type { Provider, UpstreamTarget } from './provider.js';

type CompatConfig = Extract<BackendConfig, { provider: 'openai-compatible' }>['compat'];

/** The backend's compat options; backends of other kinds (used by tests and the CLI) get the defaults. */
function compatOf(backend: ResolvedBackend): CompatConfig {
  const config = backend.config;
  if (config.provider === 'openai-compatible') return config.compat;
  return { toolCallIds: 'as-is', seedField: 'seed', dropFields: [] };
}

const MISTRAL_ID = /^[a-zA-Z0-9]{9}$/;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A deterministic 9-character [a-zA-Z0-9] id for `id`; `salt` picks another one on a (very unlikely) collision. */
export function mistralToolCallId(id: string, salt = 0): string {
  const digest = createHash('sha256').update(salt === 0 ? id : `${salt}:${id}`).digest();
  let out = '';
  for (let i = 0; i < 9; i++) out += BASE62[(digest[i] ?? 0) % 62];
  return out;
}

/**
 * Rewrites every tool-call id in the request (assistant `tool_calls[].id`, tool `tool_call_id`) to the form Mistral
 * accepts. Ids that already have that form, e.g. Mistral's own from earlier responses, are kept, and the mapping is
 * a pure function of the id, so a call and its result always agree. Responses need no mapping back: their ids are
 * the server's own, which already have the form, and clients send them back unchanged.
 */
export function rewriteToolCallIds(messages: readonly unknown[]): unknown[] {
  const assigned = new Map<string, string>();
  const taken = new Set<string>();
  for (const message of messages) {
    for (const id of toolCallIdsOf(message)) if (MISTRAL_ID.test(id)) taken.add(id);
  }
  const mapped = (id: string): string => {
    if (MISTRAL_ID.test(id)) return id;
    let out = assigned.get(id);
    if (out !== undefined) return out;
    for (let salt = 0; out === undefined || taken.has(out); salt++) out = mistralToolCallId(id, salt);
    assigned.set(id, out);
    taken.add(out);
    return out;
  };
  return messages.map((message) => {
    if (!isRecord(message)) return message;
    if (message.role === 'tool' && typeof message.tool_call_id === 'string') {
      return { ...message, tool_call_id: mapped(message.tool_call_id) };
    }
    if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
      return {
        ...message,
        tool_calls: message.tool_calls.map((call) => (isRecord(call) && typeof call.id === 'string' ? { ...call, id: mapped(call.id) } : call)),
      };
    }
    return message;
  });
}

function toolCallIdsOf(message: unknown): string[] {
  if (!isRecord(message)) return [];
  if (message.role === 'tool' && typeof message.tool_call_id === 'string') return [message.tool_call_id];
  if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
    return message.tool_calls.flatMap((call) => (isRecord(call) && typeof call.id === 'string' ? [call.id] : []));
  }
  return [];
}

const MESSAGE_FIELD = /^messages\[\]\.(.+)$/;

/** Removes the listed fields: `name` drops a top-level field, `messages[].name` the field of every message. */
export function dropFields(body: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  if (fields.length === 0) return body;
  const out: Record<string, unknown> = { ...body };
  const messageFields: string[] = [];
  for (const field of fields) {
    const perMessage = MESSAGE_FIELD.exec(field)?.[1];
    if (perMessage !== undefined) messageFields.push(perMessage);
    else delete out[field];
  }
  if (messageFields.length > 0 && Array.isArray(out.messages)) {
    out.messages = out.messages.map((message: unknown) => {
      if (!isRecord(message)) return message;
      const copy = { ...message };
      for (const field of messageFields) delete copy[field];
      return copy;
    });
  }
  return out;
}

export function applyCompat(body: Record<string, unknown>, compat: CompatConfig): Record<string, unknown> {
  let out = body;
  if (compat.toolCallIds === 'mistral' && Array.isArray(out.messages)) out = { ...out, messages: rewriteToolCallIds(out.messages) };
  if (compat.seedField !== 'seed' && out.seed !== undefined) {
    const { seed, ...rest } = out;
    out = { ...rest, [compat.seedField]: seed };
  }
  // Last, so a server that rejects fields the gateway adds (e.g. stream_options) can have them dropped too.
  return dropFields(out, compat.dropFields);
}

function checkRequest(request: ChatRequest, backend: ResolvedBackend): void {
  const { maxN } = compatOf(backend);
  if (maxN !== undefined && typeof request.n === 'number' && request.n > maxN) {
    throw new UnifiedError(
      'invalid_request',
      `Invalid value for 'n': backend '${backend.name}' generates at most ${maxN} choice${maxN === 1 ? '' : 's'} per request.`,
      'n',
    );
  }
}

export const openAICompatibleProvider: Provider = createOpenAIProvider({
  path: (target: UpstreamTarget) => joinPath(target.backend.baseUrl, '/chat/completions'),
  adjustBody: (body, target) => applyCompat(body, compatOf(target.backend)),
  checkRequest,
  repairWholeBodies: true,
  stream: { repairChunks: true },
});
