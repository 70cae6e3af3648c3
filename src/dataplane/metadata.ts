// Pure: google.protobuf.Struct ↔ JSON, and how Envoy's ext_proc filter stores ProcessingResponse.dynamic_metadata
// (Filter::setDynamicMetadata: each top-level key is a namespace; only namespaces listed in
// metadata_options.receiving_namespaces.untyped are written; each is merged into the stream's filter_metadata,
// key by key, like protobuf Struct MergeFrom).
import type { Struct, Struct__Output } from '../generated/google/protobuf/Struct.js';
import type { Value, Value__Output } from '../generated/google/protobuf/Value.js';
import type { JsonObject, JsonValue } from '../util/json.js';

/** Namespace → merged fields, what %DYNAMIC_METADATA(ns:key)% would read. */
export type DynamicMetadata = Map<string, JsonObject>;

export function valueToJson(value: Value__Output): JsonValue {
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue ?? false;
    case 'structValue':
      return structToJson(value.structValue);
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

export function structToJson(struct: Struct__Output | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

export function jsonToValue(json: JsonValue): Value {
  if (json === null) return { kind: 'nullValue', nullValue: 'NULL_VALUE' };
  if (typeof json === 'boolean') return { kind: 'boolValue', boolValue: json };
  if (typeof json === 'number') return { kind: 'numberValue', numberValue: json };
  if (typeof json === 'string') return { kind: 'stringValue', stringValue: json };
  if (Array.isArray(json)) return { kind: 'listValue', listValue: { values: json.map(jsonToValue) } };
  return { kind: 'structValue', structValue: jsonToStruct(json) };
}

export function jsonToStruct(json: JsonObject): Struct {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(json)) fields[key] = jsonToValue(value);
  return { fields };
}

/** Merges the allowed namespaces of `incoming` into `target`; returns the namespaces it dropped. */
export function mergeDynamicMetadata(
  target: DynamicMetadata,
  incoming: Struct__Output | undefined,
  receivingNamespaces: readonly string[],
): string[] {
  const dropped: string[] = [];
  for (const [namespace, value] of Object.entries(incoming?.fields ?? {})) {
    if (!receivingNamespaces.includes(namespace)) {
      dropped.push(namespace);
      continue;
    }
    const fields = value.kind === 'structValue' ? structToJson(value.structValue) : {};
    target.set(namespace, { ...(target.get(namespace) ?? {}), ...fields });
  }
  return dropped;
}

export function metadataToJson(metadata: DynamicMetadata): Record<string, JsonObject> {
  return Object.fromEntries(metadata);
}
