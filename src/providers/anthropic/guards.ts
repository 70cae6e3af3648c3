// Small guards for narrowing provider JSON (`unknown`) without trusting its shape.

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function parseJson(text: Buffer | string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function stringField(value: JsonObject, key: string): string | undefined {
  const field = value[key];
  return typeof field === 'string' ? field : undefined;
}

/** A non-negative finite count, or undefined (Anthropic sends null for counts it does not report). */
export function countField(value: JsonObject | undefined, key: string): number | undefined {
  const field = value?.[key];
  return typeof field === 'number' && Number.isFinite(field) && field >= 0 ? field : undefined;
}

export function recordField(value: JsonObject | undefined, key: string): JsonObject | undefined {
  const field = value?.[key];
  return isRecord(field) ? field : undefined;
}
