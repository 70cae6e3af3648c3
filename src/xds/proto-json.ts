// Encodes an Envoy resource written as proto3 JSON (the same objects the bootstrap generator builds) to protobuf
// binary, for the `Any` resources an xDS response carries. protobufjs' fromObject does not know the proto3 JSON
// forms of the well-known types (Duration "1s", wrapper scalars, Struct, Any with "@type"), so this walk converts
// them first, field by field, using the same reflection registry as the strict decoder. Input is trusted (our own
// generator, validated by Envoy in tests); unknown fields throw rather than vanish.
import protobuf from 'protobufjs';
import type { ProtoRegistry } from '../envoyconfig/registry.js';
import { jsonName } from '../envoyconfig/strict-decode.js';

export interface EncodedAny {
  readonly type_url: string;
  readonly value: Buffer;
}

const TYPE_URL_PREFIX = 'type.googleapis.com/';
const WRAPPERS = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map(
    (n) => `google.protobuf.${n}Value`,
  ),
);

type Plain = { [key: string]: unknown };
const isPlain = (v: unknown): v is Plain =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function fullName(type: protobuf.Type): string {
  return type.fullName.replace(/^\./, '');
}

function parseDuration(text: string): { seconds: number; nanos: number } {
  const match = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!match) throw new Error(`not a Duration: ${text}`);
  const sign = match[1] === '-' ? -1 : 1;
  const nanos = Number((match[3] ?? '').padEnd(9, '0') || '0');
  return { seconds: sign * Number(match[2]), nanos: sign * nanos };
}

function structValue(value: unknown): Plain {
  if (value === null) return { nullValue: 0 };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(structValue) } };
  if (isPlain(value)) return { structValue: struct(value) };
  throw new Error(`cannot represent ${typeof value} in a Struct`);
}

function struct(value: Plain): Plain {
  return { fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structValue(v)])) };
}

export class ProtoJsonEncoder {
  readonly #fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

  constructor(private readonly registry: ProtoRegistry) {}

  /** A message of `typeName` from its proto3 JSON, as an Any. */
  encodeAny(typeName: string, value: Plain): EncodedAny {
    const type = this.#type(typeName);
    const message = type.fromObject(this.#message(type, value) as Plain);
    return { type_url: TYPE_URL_PREFIX + typeName, value: Buffer.from(type.encode(message).finish()) };
  }

  #type(name: string): protobuf.Type {
    const type = this.registry.findType(name);
    if (!type) throw new Error(`unknown protobuf type ${name}`);
    return type;
  }

  #field(type: protobuf.Type, key: string): protobuf.Field {
    let index = this.#fieldIndex.get(type);
    if (!index) {
      index = new Map();
      for (const f of type.fieldsArray) {
        index.set(f.name, f);
        index.set(jsonName(f), f);
      }
      this.#fieldIndex.set(type, index);
    }
    const field = index.get(key);
    if (!field) throw new Error(`${fullName(type)} has no field ${key}`);
    return field.resolve();
  }

  /** The protobufjs fromObject form of a message given as proto3 JSON. */
  #message(type: protobuf.Type, value: unknown): unknown {
    const name = fullName(type);
    if (name === 'google.protobuf.Duration') return typeof value === 'string' ? parseDuration(value) : value;
    if (WRAPPERS.has(name)) return isPlain(value) ? value : { value };
    if (name === 'google.protobuf.Struct') return isPlain(value) ? struct(value) : value;
    if (name === 'google.protobuf.Value') return structValue(value);
    if (name === 'google.protobuf.Any') {
      if (!isPlain(value) || typeof value['@type'] !== 'string') throw new Error('an Any needs "@type"');
      const { '@type': typeUrl, ...rest } = value as Plain & { '@type': string };
      const inner = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
      const innerType = this.#type(inner);
      // Well-known types inside an Any carry their JSON under "value".
      const body = inner.startsWith('google.protobuf.') && 'value' in rest ? rest.value : rest;
      const message = innerType.fromObject(this.#message(innerType, body) as Plain);
      return { type_url: typeUrl, value: innerType.encode(message).finish() };
    }
    if (!isPlain(value)) throw new Error(`${name}: expected an object`);
    const out: Plain = {};
    for (const [key, fieldValue] of Object.entries(value)) {
      const field = this.#field(type, key);
      out[field.name] = this.#fieldValue(field, fieldValue);
    }
    return out;
  }

  #fieldValue(field: protobuf.Field, value: unknown): unknown {
    const convert = (v: unknown): unknown =>
      field.resolvedType instanceof protobuf.Type ? this.#message(field.resolvedType, v) : v;
    if (field instanceof protobuf.MapField) {
      if (!isPlain(value)) throw new Error(`${field.name}: expected a map`);
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v)]));
    }
    if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${field.name}: expected a list`);
      return value.map(convert);
    }
    return convert(value);
  }
}
