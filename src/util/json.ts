// Narrowing JSON that comes from the network (`unknown`) without trusting its shape. The one place for these
// guards: providers, the token counter and the Envoy config checks all use them.
import { jsonTextExceedsDepth, MAX_RESPONSE_JSON_DEPTH } from './json-depth.js';

/** A JSON value as `JSON.parse` yields it (Envoy's Struct, config blocks, Bedrock's DocumentType all are one). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The parsed JSON text (UTF-8 when a Buffer), or undefined when it is not JSON — or nests deeper than
 * MAX_RESPONSE_JSON_DEPTH: what comes back from here is walked and re-serialised (JSON.stringify, translators),
 * which would overflow the stack on such values. Texts too short to nest that deep are not scanned.
 */
export function parseJson(text: Buffer | string): unknown {
  if (text.length > MAX_RESPONSE_JSON_DEPTH && jsonTextExceedsDepth(text, MAX_RESPONSE_JSON_DEPTH)) return undefined;
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `value[key]` when it is a string. */
export function stringField(value: Record<string, unknown> | undefined, key: string): string | undefined {
  const field = value?.[key];
  return typeof field === 'string' ? field : undefined;
}

/** `value[key]` when it is a JSON object. */
export function recordField(
  value: Record<string, unknown> | undefined,
  key: string,
): Record<string, unknown> | undefined {
  const field = value?.[key];
  return isRecord(field) ? field : undefined;
}
