// Proto3 JSON scalars and the well-known types with a special JSON form (Duration, Timestamp, FieldMask,
// wrappers). Each check returns an error message, or undefined when the value is acceptable.

/** A short description of a JS value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  // What is left is a primitive (or a function): String() prints it, never as [object Object].
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return `${typeof v} ${String(v)}`;
}

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

const FLOAT_STRING_RE = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

function checkInteger(type: string, v: unknown, range: readonly [bigint, bigint]): string | undefined {
  let n: bigint;
  // proto3 JSON accepts every integer type as a number or as a string of digits (64-bit ones usually are strings).
  if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = BigInt(v);
  else return `expected ${type} (an integer), got ${describe(v)}`;
  if (n < range[0] || n > range[1]) return `${type} out of range [${range[0]}, ${range[1]}]: ${String(v)}`;
  return undefined;
}

/** Checks a proto scalar type ("uint32", "string", "bytes", …) against a JSON value. */
export function checkScalar(type: string, v: unknown): string | undefined {
  const range = Object.hasOwn(INT_RANGES, type) ? INT_RANGES[type] : undefined;
  if (range) return checkInteger(type, v, range);
  switch (type) {
    case 'double':
    case 'float': {
      if (typeof v === 'number') {
        if (type === 'float' && Math.abs(v) > 3.4028234663852886e38) return `float out of range: ${v}`;
        return undefined;
      }
      if (typeof v === 'string' && (FLOAT_STRING_RE.test(v) || ['NaN', 'Infinity', '-Infinity'].includes(v)))
        return undefined;
      return `expected ${type} (a number), got ${describe(v)}`;
    }
    case 'bool':
      return typeof v === 'boolean' ? undefined : `expected bool (true or false), got ${describe(v)}`;
    case 'string':
      // Envoy rejects `value: 429` for a string field too: YAML numbers stay numbers (quote them).
      return typeof v === 'string'
        ? undefined
        : `expected string, got ${describe(v)}${typeof v === 'number' || typeof v === 'boolean' ? ' (quote it)' : ''}`;
    case 'bytes':
      return typeof v === 'string' && BASE64_RE.test(v) && v.replace(/=+$/, '').length % 4 !== 1
        ? undefined
        : `expected bytes (a base64 string), got ${describe(v)}`;
    default:
      return `unsupported scalar type ${type}`;
  }
}

/** google.protobuf.*Value wrappers: JSON is the wrapped scalar itself. */
const WRAPPER_SCALARS: Readonly<Record<string, string>> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

/** The scalar a google.protobuf.*Value wrapper stands for, or undefined for any other type name. */
export function wrapperScalar(typeName: string): string | undefined {
  return Object.hasOwn(WRAPPER_SCALARS, typeName) ? WRAPPER_SCALARS[typeName] : undefined;
}

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const MAX_DURATION_SECONDS = 315_576_000_000;

/** Seconds of a proto3 JSON Duration ("1.5s", "0s"), or undefined if it is not one. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = DURATION_RE.exec(v);
  if (!m) return undefined;
  const seconds = Number(m[2]) + Number(`0.${m[3] ?? '0'}`);
  if (seconds > MAX_DURATION_SECONDS) return undefined;
  return m[1] ? -seconds : seconds;
}

export function checkDuration(v: unknown): string | undefined {
  return parseDuration(v) === undefined
    ? `expected a duration string such as "10s", "1.5s" or "0.250s", got ${describe(v)}`
    : undefined;
}

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function checkTimestamp(v: unknown): string | undefined {
  return typeof v === 'string' && TIMESTAMP_RE.test(v) && !Number.isNaN(Date.parse(v))
    ? undefined
    : `expected an RFC 3339 timestamp such as "2024-05-01T12:00:00Z", got ${describe(v)}`;
}

const FIELD_MASK_PATH_RE = /^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/;

export function checkFieldMask(v: unknown): string | undefined {
  if (typeof v !== 'string') return `expected a field mask string such as "fooBar,baz.qux", got ${describe(v)}`;
  const bad = v === '' ? undefined : v.split(',').find((p) => !FIELD_MASK_PATH_RE.test(p));
  return bad === undefined ? undefined : `invalid field mask path ${JSON.stringify(bad)} (use lowerCamel paths)`;
}
