// A cheap subset of protoc-gen-validate rules, read from the `(validate.rules)` field options: the ones Envoy's
// own validation enforces most often (required messages, min lengths, numeric bounds, list sizes, defined enums).
// Regex-based rules (pattern, well_known_regex) are skipped: RE2 is not JS RegExp.
import type protobuf from 'protobufjs';
import { isRecord } from '../util/json.js';
import { parseDuration } from './scalars.js';

export type Rules = Readonly<Record<string, unknown>>;

function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    into[k] = isRecord(cur) && isRecord(v) ? deepMerge({ ...cur }, v) : v;
  }
  return into;
}

const rulesCache = new WeakMap<protobuf.Field, Rules | null>();

/** The field's merged `(validate.rules)`, or undefined when it has none. */
export function fieldRules(field: protobuf.Field): Rules | undefined {
  let rules = rulesCache.get(field);
  if (rules === undefined) {
    const parsed: unknown = field.parsedOptions;
    let merged: Record<string, unknown> | null = null;
    if (Array.isArray(parsed)) {
      for (const entry of parsed) {
        const r: unknown = isRecord(entry) ? entry['(validate.rules)'] : undefined;
        if (isRecord(r)) merged = deepMerge(merged ?? {}, r);
      }
    }
    rules = merged;
    rulesCache.set(field, rules);
  }
  return rules ?? undefined;
}

/** Whether a oneof carries `(validate.required) = true`. */
export function oneofRequired(oneof: protobuf.OneOf): boolean {
  return oneof.options?.['(validate.required)'] === true;
}

export interface RuleSubject {
  /** The field is set (not absent, not null). */
  readonly present: boolean;
  readonly value: unknown;
  /** Message-typed fields (wrappers, Duration…) are only checked for `required` when absent. */
  readonly isMessage: boolean;
  readonly enumType?: protobuf.Enum | undefined;
}

/** Reports a violation; `index` names a list element or map key below the field. */
export type RuleReporter = (message: string, index?: number | string) => void;

const NUMERIC = new Set([
  'int32',
  'int64',
  'uint32',
  'uint64',
  'sint32',
  'sint64',
  'fixed32',
  'fixed64',
  'sfixed32',
  'sfixed64',
  'double',
  'float',
]);

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

function durationBound(v: unknown): number | undefined {
  if (!isRecord(v)) return undefined;
  return (num(v['seconds']) ?? 0) + (num(v['nanos']) ?? 0) / 1e9;
}

function checkBounds(
  value: number,
  spec: Record<string, unknown>,
  bound: (v: unknown) => number | undefined,
  report: RuleReporter,
  unit = '',
): void {
  const gt = bound(spec['gt']);
  const gte = bound(spec['gte']);
  const lt = bound(spec['lt']);
  const lte = bound(spec['lte']);
  if (gt !== undefined && !(value > gt)) report(`value must be greater than ${gt}${unit}`);
  if (gte !== undefined && !(value >= gte)) report(`value must be greater than or equal to ${gte}${unit}`);
  if (lt !== undefined && !(value < lt)) report(`value must be less than ${lt}${unit}`);
  if (lte !== undefined && !(value <= lte)) report(`value must be less than or equal to ${lte}${unit}`);
  const konst = bound(spec['const']);
  if (konst !== undefined && value !== konst) report(`value must equal ${konst}${unit}`);
  const inList = spec['in'];
  if (Array.isArray(inList) && !inList.map(bound).includes(value)) report(`value must be one of ${inList.join(', ')}`);
}

function checkString(v: string, spec: Record<string, unknown>, report: RuleReporter): void {
  if (spec['ignore_empty'] === true && v === '') return;
  const runes = [...v].length;
  const minLen = num(spec['min_len']);
  const maxLen = num(spec['max_len']);
  const minBytes = num(spec['min_bytes']);
  const maxBytes = num(spec['max_bytes']);
  if (minLen !== undefined && runes < minLen) report(`value length must be at least ${minLen} characters`);
  if (maxLen !== undefined && runes > maxLen) report(`value length must be at most ${maxLen} characters`);
  if (minBytes !== undefined && Buffer.byteLength(v) < minBytes) report(`value must be at least ${minBytes} bytes`);
  if (maxBytes !== undefined && Buffer.byteLength(v) > maxBytes) report(`value must be at most ${maxBytes} bytes`);
  const inList = spec['in'];
  if (Array.isArray(inList) && !inList.includes(v))
    report(`value must be one of ${inList.map((s) => JSON.stringify(s)).join(', ')}`);
  if (typeof spec['prefix'] === 'string' && !v.startsWith(spec['prefix']))
    report(`value must start with ${JSON.stringify(spec['prefix'])}`);
}

function enumNumber(v: unknown, enumType: protobuf.Enum | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && enumType) return enumType.values[v];
  return undefined;
}

/** Applies `rules` to one field value. The caller skips absent fields when validating a partial (MERGE) patch. */
export function checkRules(rules: Rules, subject: RuleSubject, report: RuleReporter): void {
  const { present, value, isMessage } = subject;
  for (const [kind, specValue] of Object.entries(rules)) {
    if (!isRecord(specValue)) continue;
    const spec = specValue;
    if (
      (kind === 'message' || kind === 'any' || kind === 'duration' || kind === 'timestamp') &&
      spec['required'] === true &&
      !present
    ) {
      report('value is required');
      continue;
    }
    // Rules on a message-typed field (wrappers, Duration) only apply once it is set; scalars use their default.
    if (!present && (isMessage || kind === 'repeated' || kind === 'map')) {
      if (kind === 'repeated' && (num(spec['min_items']) ?? 0) > 0)
        report(`value must contain at least ${num(spec['min_items'])} item(s)`);
      if (kind === 'map' && (num(spec['min_pairs']) ?? 0) > 0)
        report(`value must contain at least ${num(spec['min_pairs'])} pair(s)`);
      continue;
    }
    if (kind === 'duration') {
      const seconds = parseDuration(value);
      if (seconds !== undefined) checkBounds(seconds, spec, durationBound, report, 's');
    } else if (kind === 'string') {
      const v = present ? value : '';
      if (typeof v === 'string') checkString(v, spec, report);
    } else if (NUMERIC.has(kind)) {
      const v = num(present ? value : 0);
      if (v !== undefined) checkBounds(v, spec, num, report);
    } else if (kind === 'bool') {
      const v = present ? value : false;
      if (typeof spec['const'] === 'boolean' && v !== spec['const'])
        report(`value must equal ${String(spec['const'])}`);
    } else if (kind === 'enum') {
      const n = enumNumber(present ? value : 0, subject.enumType);
      if (n === undefined) continue;
      if (spec['defined_only'] === true && subject.enumType && subject.enumType.valuesById[n] === undefined)
        report(`value must be one of the defined enum values`);
      const notIn = spec['not_in'];
      if (Array.isArray(notIn) && notIn.map((x) => enumNumber(x, subject.enumType)).includes(n))
        report(`value must not be ${String(value)}`);
    } else if (kind === 'repeated' && Array.isArray(value)) {
      const minItems = num(spec['min_items']);
      const maxItems = num(spec['max_items']);
      if (minItems !== undefined && value.length < minItems) report(`value must contain at least ${minItems} item(s)`);
      if (maxItems !== undefined && value.length > maxItems) report(`value must contain at most ${maxItems} item(s)`);
      const items = spec['items'];
      if (isRecord(items)) {
        value.forEach((el, i) =>
          checkRules(items, { present: el !== null, value: el, isMessage: false, enumType: subject.enumType }, (m) =>
            report(m, i),
          ),
        );
      }
    } else if (kind === 'map' && isRecord(value)) {
      const pairs = Object.keys(value).length;
      const minPairs = num(spec['min_pairs']);
      if (minPairs !== undefined && pairs < minPairs) report(`value must contain at least ${minPairs} pair(s)`);
      const keys = spec['keys'];
      if (isRecord(keys)) {
        for (const k of Object.keys(value))
          checkRules(keys, { present: true, value: k, isMessage: false }, (m) => report(`key ${m}`, k));
      }
    }
  }
}
