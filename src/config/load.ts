// Reads the service config from YAML and validates it. Errors name the path of the bad field and, because
// users edit YAML by hand, the line and column it sits on.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isNode } from 'yaml';
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
  const result = serviceConfigSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, problems: result.error.issues.map((issue) => locate(issue, doc, lineCounter)) };
}

function locate(issue: z.core.$ZodIssue, doc: ReturnType<typeof parseDocument>, lineCounter: LineCounter): ConfigProblem {
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

export function loadConfigFile(file: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, problems: [{ path: '', line: undefined, column: undefined, message: `cannot read config: ${reason}` }] };
  }
  return parseConfig(text);
}

export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = p.line === undefined ? file : `${file}:${p.line}:${p.column ?? 1}`;
      return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
    })
    .join('\n');
}
