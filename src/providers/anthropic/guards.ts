// Anthropic-specific narrowing of provider JSON; the generic guards (isRecord, parseJson, stringField,
// recordField) are in src/util/json.ts.

/** A JSON object from Anthropic, as the generic guards narrow it. */
export type JsonObject = Record<string, unknown>;

/** A non-negative finite count, or undefined (Anthropic sends null for counts it does not report). */
export function countField(value: JsonObject | undefined, key: string): number | undefined {
  const field = value?.[key];
  return typeof field === 'number' && Number.isFinite(field) && field >= 0 ? field : undefined;
}
