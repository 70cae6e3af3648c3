// A small JSON Schema subset validator for response_format json_schema and tool parameters. Supported keywords:
// type (string or list), properties, required, additionalProperties (boolean or schema), items, prefixItems, enum,
// const, minItems/maxItems, minLength/maxLength, minimum/maximum/exclusiveMinimum/exclusiveMaximum, anyOf, oneOf,
// allOf, and local $ref (#/$defs/…, #/definitions/…). Unknown keywords (format, pattern, …) are ignored, so the
// validator may accept what a full validator rejects, never the reverse: a health check must not cry wolf.
// We chose this over ajv (~120 KB, compiles schemas per request: a cache keyed by schema text would be needed on
// the hot path) because OpenAI's structured outputs only allow this subset anyway.

type Schema = Record<string, unknown>;

const MAX_DEPTH = 64;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function matchesType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return isObject(value);
    default:
      return typeOf(value) === type;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length && keys.every((k) => k in bo && deepEqual(ao[k], bo[k]));
}

function resolveRef(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return isObject(node) ? node : undefined;
}

/** Undefined when `value` satisfies `schema`, else the first violation ("$.a[2].b: expected integer"). */
export function validateJsonSchema(value: unknown, schema: Schema): string | undefined {
  return check(value, schema, schema, '$', 0);
}

function check(value: unknown, schema: Schema, root: Schema, path: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined; // recursive schemas: give up silently rather than fail the backend
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(root, schema.$ref);
    return target ? check(value, target, root, path, depth + 1) : undefined;
  }
  const type = schema.type;
  if (typeof type === 'string' || Array.isArray(type)) {
    const types = (Array.isArray(type) ? type : [type]).filter((t): t is string => typeof t === 'string');
    if (!types.some((t) => matchesType(value, t))) return `${path}: expected ${types.join('|')}, got ${typeOf(value)}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => deepEqual(e, value)))
    return `${path}: not one of the enum values`;
  if ('const' in schema && !deepEqual(schema.const, value)) return `${path}: not the const value`;
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength)
      return `${path}: shorter than ${schema.minLength}`;
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength)
      return `${path}: longer than ${schema.maxLength}`;
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) return `${path}: below minimum ${schema.minimum}`;
    if (typeof schema.maximum === 'number' && value > schema.maximum) return `${path}: above maximum ${schema.maximum}`;
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum)
      return `${path}: not above ${schema.exclusiveMinimum}`;
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum)
      return `${path}: not below ${schema.exclusiveMaximum}`;
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      return `${path}: fewer than ${schema.minItems} items`;
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems)
      return `${path}: more than ${schema.maxItems} items`;
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
    for (let i = 0; i < value.length; i++) {
      const itemSchema = i < prefix.length ? prefix[i] : schema.items;
      if (!isObject(itemSchema)) continue;
      const problem = check(value[i], itemSchema, root, `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
  }
  if (isObject(value)) {
    const properties = isObject(schema.properties) ? schema.properties : {};
    if (Array.isArray(schema.required)) {
      for (const key of schema.required)
        if (typeof key === 'string' && !(key in value)) return `${path}: missing required property "${key}"`;
    }
    for (const [key, v] of Object.entries(value)) {
      const propertySchema = properties[key];
      if (isObject(propertySchema)) {
        const problem = check(v, propertySchema, root, `${path}.${key}`, depth + 1);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        return `${path}: unexpected property "${key}"`;
      } else if (isObject(schema.additionalProperties)) {
        const problem = check(v, schema.additionalProperties, root, `${path}.${key}`, depth + 1);
        if (problem) return problem;
      }
    }
  }
  if (Array.isArray(schema.allOf)) {
    for (const sub of schema.allOf) {
      if (!isObject(sub)) continue;
      const problem = check(value, sub, root, path, depth + 1);
      if (problem) return problem;
    }
  }
  if (Array.isArray(schema.anyOf)) {
    const subs = schema.anyOf.filter(isObject);
    if (subs.length > 0 && !subs.some((sub) => check(value, sub, root, path, depth + 1) === undefined))
      return `${path}: matches none of anyOf`;
  }
  if (Array.isArray(schema.oneOf)) {
    const matches = schema.oneOf
      .filter(isObject)
      .filter((sub) => check(value, sub, root, path, depth + 1) === undefined).length;
    if (matches !== 1) return `${path}: matches ${matches} of oneOf`;
  }
  return undefined;
}
