// Strict proto3-JSON decoding of a plain JS value (usually parsed YAML) against an Envoy message type. It only
// checks: it reports every problem (unknown fields, wrong types, unknown enum names, unresolvable `@type`, two
// members of a oneof, bad well-known-type strings, a subset of PGV rules) with the exact path, and produces no
// message. Envoy itself rejects all of these at load time; finding them in CI is the point.
import protobuf from 'protobufjs';
import { isRecord } from '../util/json.js';
import type { ProtoRegistry } from './registry.js';
import { checkRules, fieldRules, oneofRequired } from './pgv.js';
import { checkDuration, checkFieldMask, checkScalar, checkTimestamp, describe, wrapperScalar } from './scalars.js';

/** One step of a path: `label` is what error messages show, `raw` the key or index in the input (for locating). */
export interface PathSegment {
  readonly label: string;
  readonly raw: string | number;
  readonly kind: 'field' | 'index' | 'key';
}

export interface DecodeIssue {
  readonly severity: 'error' | 'warning';
  /** Display path, e.g. `static_resources.clusters[2].typed_extension_protocol_options["…"].http_filters[0]`. */
  readonly path: string;
  readonly message: string;
  /** Keys and indexes leading to the offending value in the input, for mapping to a YAML position. */
  readonly rawPath: readonly (string | number)[];
  /** The issue is about the key itself (e.g. an unknown field), not its value. */
  readonly atKey: boolean;
}

export interface DecodeOptions {
  /** A partial message (Istio MERGE patch): presence rules (required, min_len of an unset field…) are skipped. */
  readonly partial?: boolean;
  /** Path of `value` inside a larger document (e.g. an EnvoyFilter's `spec.configPatches[0].patch.value`). */
  readonly basePath?: readonly PathSegment[];
}

export function fieldSegment(name: string, raw: string = name): PathSegment {
  return { label: name, raw, kind: 'field' };
}
export function indexSegment(i: number): PathSegment {
  return { label: `[${i}]`, raw: i, kind: 'index' };
}
export function keySegment(key: string): PathSegment {
  return { label: `[${JSON.stringify(key)}]`, raw: key, kind: 'key' };
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += seg.kind === 'field' && out !== '' ? `.${seg.label}` : seg.label;
  return out;
}

/** protobufjs full names start with a dot; messages and type URLs do not. */
function typeName(t: protobuf.ReflectionObject): string {
  return t.fullName.replace(/^\./, '');
}

/** proto3 JSON name: `request_body_mode` → `requestBodyMode` (protoc's ToJsonName). */
export function jsonName(field: protobuf.Field): string {
  const explicit: unknown = field.options?.['json_name'];
  if (typeof explicit === 'string') return explicit;
  return field.name.replace(/_(.)/g, (_m, c: string) => c.toUpperCase()).replace(/_/g, '');
}

const fieldIndexCache = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldIndex(type: protobuf.Type): Map<string, protobuf.Field> {
  let index = fieldIndexCache.get(type);
  if (!index) {
    index = new Map();
    for (const f of type.fieldsArray) {
      index.set(f.name, f);
      index.set(jsonName(f), f);
    }
    fieldIndexCache.set(type, index);
  }
  return index;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

function suggestion(key: string, type: protobuf.Type): string {
  const normal = key.replace(/([A-Z])/g, '_$1').toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const f of type.fieldsArray) {
    const d = editDistance(normal, f.name);
    if (d < bestDistance) [best, bestDistance] = [f.name, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(normal.length / 4))
    ? `; did you mean "${best}"?`
    : '';
}

/** Well-known types whose JSON is not an object of their fields (inside an Any they sit under "value"). */
const SPECIAL_JSON_TYPES = new Set(
  ['Any', 'Duration', 'Timestamp', 'FieldMask', 'Struct', 'ListValue', 'Value'].map((n) => `google.protobuf.${n}`),
);

const TYPE_URL_RE = /^\S*\/([A-Za-z_][\w.]*)$/; // the type name follows the last "/"

class Decoder {
  readonly issues: DecodeIssue[] = [];

  constructor(
    private readonly registry: ProtoRegistry,
    private readonly partial: boolean,
  ) {}

  report(
    path: readonly PathSegment[],
    message: string,
    atKey = false,
    severity: DecodeIssue['severity'] = 'error',
  ): void {
    this.issues.push({ severity, path: formatPath(path), message, rawPath: path.map((s) => s.raw), atKey });
  }

  message(type: protobuf.Type, value: unknown, path: readonly PathSegment[]): void {
    const special = this.wellKnown(typeName(type), value, path);
    if (special) return;
    if (!isRecord(value)) {
      this.report(path, `expected a mapping (${typeName(type)}), got ${describe(value)}`);
      return;
    }
    this.fields(type, value, path);
  }

  /** Handles the well-known types whose JSON form is not an object of fields; false for ordinary messages. */
  private wellKnown(name: string, value: unknown, path: readonly PathSegment[]): boolean {
    const check = (msg: string | undefined): true => {
      if (msg !== undefined) this.report(path, msg);
      return true;
    };
    const wrapped = wrapperScalar(name);
    if (wrapped) return check(checkScalar(wrapped, value));
    switch (name) {
      case 'google.protobuf.Any':
        this.any(value, path);
        return true;
      case 'google.protobuf.Duration':
        return check(checkDuration(value));
      case 'google.protobuf.Timestamp':
        return check(checkTimestamp(value));
      case 'google.protobuf.FieldMask':
        return check(checkFieldMask(value));
      case 'google.protobuf.Struct':
        return check(
          isRecord(value) ? undefined : `expected a mapping (google.protobuf.Struct), got ${describe(value)}`,
        );
      case 'google.protobuf.ListValue':
        return check(
          Array.isArray(value) ? undefined : `expected a list (google.protobuf.ListValue), got ${describe(value)}`,
        );
      case 'google.protobuf.Value':
        return true; // any JSON value
      case 'google.protobuf.Empty':
        return check(
          isRecord(value) && Object.keys(value).length === 0
            ? undefined
            : `expected an empty mapping {}, got ${describe(value)}`,
        );
      default:
        return false;
    }
  }

  private any(value: unknown, path: readonly PathSegment[]): void {
    if (!isRecord(value)) {
      this.report(path, `expected a mapping with "@type" (google.protobuf.Any), got ${describe(value)}`);
      return;
    }
    const typeUrl = value['@type'];
    const typePath = [...path, keySegment('@type')];
    if (typeof typeUrl !== 'string') {
      this.report(
        typeUrl === undefined ? path : typePath,
        typeUrl === undefined
          ? 'missing "@type" (google.protobuf.Any)'
          : `expected a type URL string, got ${describe(typeUrl)}`,
      );
      return;
    }
    const m = TYPE_URL_RE.exec(typeUrl);
    const type = m?.[1] === undefined ? undefined : this.registry.findType(m[1]);
    if (!type) {
      this.report(
        typePath,
        m
          ? `cannot resolve type ${JSON.stringify(m[1])}: not in the Envoy protos (protos/gen, Envoy 1.40.0)`
          : `invalid type URL ${JSON.stringify(typeUrl)} (expected type.googleapis.com/<full.message.Name>)`,
      );
      return;
    }
    const { ['@type']: _ignored, ...rest } = value;
    const name = typeName(type);
    // A well-known type inside Any keeps its special JSON form under "value".
    if (SPECIAL_JSON_TYPES.has(name) || wrapperScalar(name) !== undefined) {
      for (const key of Object.keys(rest))
        if (key !== 'value')
          this.report(
            [...path, fieldSegment(key)],
            'unknown field (an Any holding a well-known type has only "@type" and "value")',
            true,
          );
      if ('value' in rest) this.message(type, rest['value'], [...path, fieldSegment('value')]);
      return;
    }
    this.fields(type, rest, path);
  }

  private fields(type: protobuf.Type, value: Record<string, unknown>, path: readonly PathSegment[]): void {
    const index = fieldIndex(type);
    const seen = new Map<protobuf.Field, string>();
    const invalid = new Set<protobuf.Field>();
    for (const [key, v] of Object.entries(value)) {
      const field = index.get(key);
      if (!field) {
        const hint =
          key === '<<'
            ? '; YAML merge keys are not supported, alias a whole value (*anchor) instead'
            : suggestion(key, type);
        this.report(
          [...path, fieldSegment(key)],
          `unknown field (${typeName(type)} has no field "${key}"${hint})`,
          true,
        );
        continue;
      }
      const fieldPath = [...path, fieldSegment(field.name, key)];
      const earlier = seen.get(field);
      if (earlier !== undefined) {
        this.report(fieldPath, `field set twice (as "${earlier}" and "${key}")`, true);
        continue;
      }
      seen.set(field, key);
      if (v === null && !this.nullable(field)) continue; // proto3 JSON: null means "not set"
      if (field.options?.['deprecated'] === true) this.report(fieldPath, 'deprecated field', true, 'warning');
      if (field.options?.['(envoy.annotations.disallowed_by_default)'] === true) {
        this.report(
          fieldPath,
          'field is disallowed by default (Envoy rejects it unless a runtime override allows it)',
          true,
        );
      }
      const before = this.issues.length;
      this.field(field, v, fieldPath);
      if (this.issues.length > before) invalid.add(field); // one complaint per field is enough
    }
    this.oneofs(type, value, seen, path);
    this.rules(type, value, seen, invalid, path);
  }

  private nullable(field: protobuf.Field): boolean {
    const t = field.resolvedType?.fullName;
    return !field.repeated && !field.map && (t === '.google.protobuf.Value' || t === '.google.protobuf.NullValue');
  }

  private isSet(field: protobuf.Field, value: Record<string, unknown>, seen: Map<protobuf.Field, string>): boolean {
    const key = seen.get(field);
    return key !== undefined && (value[key] !== null || this.nullable(field));
  }

  private oneofs(
    type: protobuf.Type,
    value: Record<string, unknown>,
    seen: Map<protobuf.Field, string>,
    path: readonly PathSegment[],
  ): void {
    for (const oneof of type.oneofsArray) {
      // In input order, so the member written second is the one reported.
      const set = [...seen.keys()].filter((f) => f.partOf === oneof && this.isSet(f, value, seen));
      for (const extra of set.slice(1)) {
        this.report(
          [...path, fieldSegment(extra.name, seen.get(extra) ?? extra.name)],
          `only one of ${set.map((f) => f.name).join(', ')} may be set (oneof "${oneof.name}")`,
          true,
        );
      }
      if (set.length === 0 && !this.partial && oneofRequired(oneof)) {
        this.report(
          path,
          `one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} is required (oneof "${oneof.name}")`,
        );
      }
    }
  }

  private rules(
    type: protobuf.Type,
    value: Record<string, unknown>,
    seen: Map<protobuf.Field, string>,
    invalid: Set<protobuf.Field>,
    path: readonly PathSegment[],
  ): void {
    for (const field of type.fieldsArray) {
      const rules = fieldRules(field);
      if (!rules || invalid.has(field)) continue;
      const present = this.isSet(field, value, seen);
      // Oneof members are validated only when set (PGV); a partial patch says nothing about absent fields.
      if (!present && (field.partOf || this.partial)) continue;
      const key = seen.get(field) ?? field.name;
      const fieldPath = [...path, fieldSegment(field.name, key)];
      const resolved = field.resolvedType;
      checkRules(
        rules,
        {
          present,
          value: present ? value[key] : undefined,
          isMessage: resolved instanceof protobuf.Type && !field.repeated && !field.map,
          enumType: resolved instanceof protobuf.Enum ? resolved : undefined,
        },
        (message, sub) => {
          const subPath = sub === undefined ? [] : [typeof sub === 'number' ? indexSegment(sub) : keySegment(sub)];
          // A missing field has no position of its own: point at the enclosing mapping.
          if (present) this.report([...fieldPath, ...subPath], message);
          else
            this.issues.push({
              severity: 'error',
              path: formatPath(fieldPath),
              message,
              rawPath: path.map((s) => s.raw),
              atKey: false,
            });
        },
      );
    }
  }

  private field(field: protobuf.Field, value: unknown, path: readonly PathSegment[]): void {
    if (field instanceof protobuf.MapField) {
      if (!isRecord(value)) {
        this.report(path, `expected a mapping (map<${field.keyType}, ${field.type}>), got ${describe(value)}`);
        return;
      }
      for (const [k, v] of Object.entries(value)) {
        const keyPath = [...path, keySegment(k)];
        if (field.keyType !== 'string') {
          const bad =
            field.keyType === 'bool'
              ? k === 'true' || k === 'false'
                ? undefined
                : `expected a bool map key, got "${k}"`
              : checkScalar(field.keyType, k);
          if (bad !== undefined) this.report(keyPath, bad, true);
        }
        this.single(field, v, keyPath);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        this.report(path, `expected a list (repeated ${field.type}), got ${describe(value)}`);
        return;
      }
      value.forEach((el, i) => this.single(field, el, [...path, indexSegment(i)]));
      return;
    }
    this.single(field, value, path);
  }

  private single(field: protobuf.Field, value: unknown, path: readonly PathSegment[]): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      if (value === null && resolved.fullName !== '.google.protobuf.Value') {
        this.report(path, `expected ${typeName(resolved)}, got null`);
        return;
      }
      this.message(resolved, value, path);
    } else if (resolved instanceof protobuf.Enum) {
      this.enumValue(resolved, value, path);
    } else {
      const msg = checkScalar(field.type, value);
      if (msg !== undefined) this.report(path, msg);
    }
  }

  private enumValue(type: protobuf.Enum, value: unknown, path: readonly PathSegment[]): void {
    const name = typeName(type);
    if (name === 'google.protobuf.NullValue' && value === null) return;
    if (typeof value === 'string') {
      if (type.values[value] !== undefined) return;
      const names = Object.keys(type.values);
      const list = names.length <= 16 ? ` (expected one of ${names.join(', ')})` : '';
      this.report(path, `unknown enum value "${value}" for ${name}${list}`);
      return;
    }
    if (typeof value === 'number' && Number.isInteger(value)) return; // proto3 enums are open; PGV defined_only checks the rest
    this.report(path, `expected an enum name of ${name}, got ${describe(value)}`);
  }
}

/**
 * Checks `value` against the message type `typeName` (full name, e.g. "envoy.config.bootstrap.v3.Bootstrap") and
 * returns every problem found; an empty list means Envoy's JSON/YAML loader would accept it.
 */
export function decodeStrict(
  registry: ProtoRegistry,
  typeName: string,
  value: unknown,
  options: DecodeOptions = {},
): DecodeIssue[] {
  const decoder = new Decoder(registry, options.partial === true);
  const base = options.basePath ?? [];
  const type = registry.findType(typeName);
  if (!type) {
    decoder.report(base, `unknown message type ${typeName}`);
    return decoder.issues;
  }
  decoder.message(type, value, base);
  return decoder.issues;
}
