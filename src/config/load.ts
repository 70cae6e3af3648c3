// Reads the service config from YAML and validates it. Errors name the path of the bad field and, because
// users edit YAML by hand, the line and column it sits on.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isMap, isNode, isScalar } from 'yaml';
import type { z } from 'zod';
import { formatPath } from '../util/format-path.js';
import { serviceConfigSchema, type ServiceConfig } from './schema.js';

export interface ConfigProblem {
  /** Dotted path, e.g. `backends[0].baseUrl`; empty for the document itself. */
  readonly path: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: ServiceConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../../src/config/default-config.yaml', import.meta.url));

export function parseConfig(text: string): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: '', line: pos?.line, column: pos?.col, message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    };
  }
  const value: unknown = doc.toJS() ?? {};
  const result = serviceConfigSchema.safeParse(value);
  if (result.success) return { ok: true, config: result.data };
  const problems: ConfigProblem[] = [];
  // A misspelled key is reported once, at its own line, with the closest valid key; the problem it causes in turn
  // (the key it was meant to be is "missing") is a follow-on and is left out.
  const followOns = new Set<string>();
  for (const issue of result.error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const parent = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    for (const key of issue.keys) {
      const suggestion = closestKey(key, validKeysAt(serviceConfigSchema, parent, value));
      if (suggestion) followOns.add(formatPath([...parent, suggestion]));
      problems.push(locateKey(parent, key, suggestion, doc, lineCounter));
    }
  }
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') continue;
    const path = formatPath(issue.path.filter((p): p is string | number => typeof p !== 'symbol'));
    if (followOns.has(path)) continue;
    problems.push(locate(issue, doc, lineCounter));
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return { ok: false, problems };
}

/** Points at the unknown key itself (not its parent entry) and suggests the closest valid key. */
function locateKey(
  parent: readonly (string | number)[],
  key: string,
  suggestion: string | undefined,
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
): ConfigProblem {
  const path = formatPath([...parent, key]);
  const message = `unknown key "${key}"${suggestion ? ` (did you mean \`${suggestion}\`?)` : ''}`;
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (isMap(map)) {
    for (const pair of map.items) {
      if (isScalar(pair.key) && pair.key.value === key && pair.key.range) {
        const pos = lineCounter.linePos(pair.key.range[0]);
        return { path, line: pos.line, column: pos.col, message };
      }
    }
  }
  const fallback = locate({ code: 'custom', path: [...parent], message, input: undefined }, doc, lineCounter);
  return { ...fallback, path };
}

/** The keys an object schema at `path` accepts (for a discriminated union: the option the value selects). */
export function validKeysAt(schema: z.core.$ZodType, path: readonly (string | number)[], value: unknown): string[] {
  let schemas = unwrapSchema(schema, value);
  let current = value;
  for (const segment of path) {
    const next: z.core.$ZodType[] = [];
    const inner =
      isRecordValue(current) || Array.isArray(current)
        ? (current as Record<string | number, unknown>)[segment]
        : undefined;
    for (const s of schemas) {
      const def = s._zod.def;
      if (def.type === 'object' && typeof segment === 'string') {
        const field = (def as z.core.$ZodObjectDef).shape[segment];
        if (field) next.push(...unwrapSchema(field, inner));
      } else if (def.type === 'array' && typeof segment === 'number') {
        next.push(...unwrapSchema((def as z.core.$ZodArrayDef).element, inner));
      } else if (def.type === 'record') {
        next.push(...unwrapSchema((def as z.core.$ZodRecordDef).valueType, inner));
      }
    }
    schemas = next;
    current = inner;
  }
  return [
    ...new Set(
      schemas.flatMap((s) =>
        s._zod.def.type === 'object' ? Object.keys((s._zod.def as z.core.$ZodObjectDef).shape) : [],
      ),
    ),
  ];
}

function isRecordValue(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Looks through wrappers (optional, default, pipe…) to the schemas that parse `value`. */
function unwrapSchema(schema: z.core.$ZodType, value: unknown): z.core.$ZodType[] {
  const def = schema._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return unwrapSchema((def as z.core.$ZodOptionalDef).innerType, value);
    case 'pipe':
      return unwrapSchema((def as z.core.$ZodPipeDef).in, value);
    case 'union': {
      const options = (def as z.core.$ZodUnionDef).options;
      const discriminator = (def as Partial<z.core.$ZodDiscriminatedUnionDef>).discriminator;
      if (discriminator !== undefined && isRecordValue(value)) {
        const chosen = options.filter((o) =>
          o._zod.propValues?.[discriminator]?.has(value[discriminator] as z.core.util.Primitive),
        );
        if (chosen.length > 0) return chosen.flatMap((o) => unwrapSchema(o, value));
      }
      return options.flatMap((o) => unwrapSchema(o, value));
    }
    default:
      return [schema];
  }
}

/** The valid key closest to a misspelled one: same letters ignoring case, or within a small edit distance. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance =
      candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  if (!best) return undefined;
  return best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const transposed =
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? (previous[j - 2] ?? 0) + 1 : Infinity;
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost, transposed));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

function locate(
  issue: z.core.$ZodIssue,
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
): ConfigProblem {
  // Walk up from the failing path until a node exists in the document (a missing key points at its parent).
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return { path: formatPath(path), line: pos.line, column: pos.col, message: issue.message };
    }
  }
  return { path: formatPath(path), line: undefined, column: undefined, message: issue.message };
}

/** `transform` edits the text before it is parsed and validated (e.g. the CLI's listen-address overrides). */
export function loadConfigFile(file: string, transform?: (text: string) => string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      problems: [{ path: '', line: undefined, column: undefined, message: `cannot read config: ${reason}` }],
    };
  }
  return parseConfig(transform ? transform(text) : text);
}

export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = p.line === undefined ? file : `${file}:${p.line}:${p.column ?? 1}`;
      return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
    })
    .join('\n');
}
