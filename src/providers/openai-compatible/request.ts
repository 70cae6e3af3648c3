// The compat options applied to an OpenAI request for one server (tool-call ids, seed field, dropped fields, max n).
import type { ResolvedBackend } from '../../config/topology.js';
import type { ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { isRecord } from '../../util/json.js';
import { MISTRAL_TOOL_IDS, rewriteToolCallIds } from '../tool-ids.js';
import type { OpenAICompatibleConfig } from './api.js';

type CompatConfig = OpenAICompatibleConfig['compat'];

/** The backend's compat options; backends of other kinds (used by tests and the CLI) get the defaults. */
export function compatOf(backend: ResolvedBackend): CompatConfig {
  const config = backend.config;
  if (config.provider === 'openai-compatible') return config.compat;
  return { toolCallIds: 'as-is', seedField: 'seed', dropFields: [] };
}

/** A deterministic 9-character [a-zA-Z0-9] id for `id`; `salt` picks another one on a (very unlikely) collision. */
export function mistralToolCallId(id: string, salt = 0): string {
  return MISTRAL_TOOL_IDS.make(id, salt);
}

const MESSAGE_FIELD = /^messages\[\]\.(.+)$/;

/** Removes the listed fields: `name` drops a top-level field, `messages[].name` the field of every message. */
function dropFields(body: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
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
  if (compat.toolCallIds === 'mistral' && Array.isArray(out.messages))
    out = { ...out, messages: rewriteToolCallIds(out.messages, MISTRAL_TOOL_IDS) };
  if (compat.seedField !== 'seed' && out.seed !== undefined) {
    const { seed, ...rest } = out;
    out = { ...rest, [compat.seedField]: seed };
  }
  // Last, so a server that rejects fields the gateway adds (e.g. stream_options) can have them dropped too.
  return dropFields(out, compat.dropFields);
}

export function checkCompatRequest(request: ChatRequest, backend: ResolvedBackend): void {
  const { maxN } = compatOf(backend);
  if (maxN !== undefined && typeof request.n === 'number' && request.n > maxN) {
    throw new UnifiedError(
      'invalid_request',
      `Invalid value for 'n': backend '${backend.name}' generates at most ${maxN} choice${maxN === 1 ? '' : 's'} per request.`,
      'n',
    );
  }
}
