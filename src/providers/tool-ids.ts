// Tool-call ids travel from one provider's response to another provider's request when a conversation fails
// over, and providers disagree on what an id may look like (Mistral: 9 alphanumerics; OpenAI: at most 40
// characters; Bedrock: [a-zA-Z0-9_-]{1,64}; Gemini 3 ids here carry a signature and run long). Each request
// path rewrites the ids its provider would reject, deterministically, so a call and its result always agree.
import { createHash } from 'node:crypto';
import { isRecord } from '../util/json.js';

export interface ToolIdPolicy {
  /** Ids the provider accepts as they are. */
  readonly accepts: (id: string) => boolean;
  /** The replacement for `id`; `salt` picks another one on a (very unlikely) collision. */
  readonly make: (id: string, salt: number) => string;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` base62 characters derived from the id (and the salt). */
export function hashedId(id: string, salt: number, length: number): string {
  const digest = createHash('sha256')
    .update(salt === 0 ? id : `${salt}:${id}`)
    .digest();
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[(digest[i % digest.length] ?? 0) % 62];
  return out;
}

const MISTRAL_ID = /^[a-zA-Z0-9]{9}$/;
const BEDROCK_ID = /^[a-zA-Z0-9_-]{1,64}$/;

export const MISTRAL_TOOL_IDS: ToolIdPolicy = {
  accepts: (id) => MISTRAL_ID.test(id),
  make: (id, salt) => hashedId(id, salt, 9),
};
export const OPENAI_TOOL_IDS: ToolIdPolicy = {
  accepts: (id) => id.length <= 40,
  make: (id, salt) => `call_${hashedId(id, salt, 24)}`,
};
export const BEDROCK_TOOL_IDS: ToolIdPolicy = {
  accepts: (id) => BEDROCK_ID.test(id),
  make: (id, salt) => `call_${hashedId(id, salt, 24)}`,
};

function toolCallIdsOf(message: unknown): string[] {
  if (!isRecord(message)) return [];
  if (message.role === 'tool' && typeof message.tool_call_id === 'string') return [message.tool_call_id];
  if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
    return message.tool_calls.flatMap((call) => (isRecord(call) && typeof call.id === 'string' ? [call.id] : []));
  }
  return [];
}

/**
 * Rewrites the tool-call ids of a conversation (assistant `tool_calls[].id`, tool `tool_call_id`) that the policy
 * rejects; returns the same array when there are none (the common case costs one scan). Responses need no mapping
 * back: their ids are the provider's own, which it accepts, and clients send them back unchanged.
 */
export function rewriteToolCallIds<T>(messages: readonly T[], policy: ToolIdPolicy): readonly T[] {
  const ids = messages.flatMap(toolCallIdsOf);
  if (ids.every(policy.accepts)) return messages;
  const taken = new Set(ids.filter(policy.accepts));
  const assigned = new Map<string, string>();
  const mapped = (id: string): string => {
    if (policy.accepts(id)) return id;
    let out = assigned.get(id);
    if (out !== undefined) return out;
    for (let salt = 0; out === undefined || taken.has(out); salt++) out = policy.make(id, salt);
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
      const calls = message.tool_calls.map((call) =>
        isRecord(call) && typeof call.id === 'string' ? { ...call, id: mapped(call.id) } : call,
      );
      return { ...message, tool_calls: calls };
    }
    return message;
  });
}
