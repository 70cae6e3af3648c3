// Validates a YAML file that is either an Envoy v3 bootstrap or one or more Istio EnvoyFilter manifests.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { isRecord } from '../util/json.js';
import { APPLY_TO_TYPES, envoyFilterSchema, type ApplyTo } from './envoyfilter.js';
import { sharedRegistry, type ProtoRegistry } from './registry.js';
import { decodeStrict, fieldSegment, formatPath, indexSegment, type PathSegment } from './strict-decode.js';
import { parseYaml, type Position, type SourceDocument } from './yaml-source.js';

export const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

export interface FileIssue {
  readonly severity: 'error' | 'warning';
  readonly position: Position | undefined;
  /** Path inside the document ('' for the document itself). */
  readonly path: string;
  readonly message: string;
}

export interface FileResult {
  /** What the file holds, e.g. "Envoy bootstrap" or "Istio EnvoyFilter llm-gateway/llm-extproc-cluster". */
  readonly description: string;
  readonly issues: FileIssue[];
}

function segmentsOf(raw: readonly PropertyKey[]): PathSegment[] {
  return raw.map((k) => (typeof k === 'number' ? indexSegment(k) : fieldSegment(String(k))));
}

function zodIssues(doc: SourceDocument, error: z.ZodError): FileIssue[] {
  const out: FileIssue[] = [];
  for (const issue of error.issues) {
    const raw = issue.path.filter((k): k is string | number => typeof k === 'string' || typeof k === 'number');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          severity: 'error',
          position: doc.locate([...raw, key], true),
          path: formatPath(segmentsOf([...raw, key])),
          message: 'unknown field',
        });
      }
      continue;
    }
    out.push({
      severity: 'error',
      position: doc.locate(raw),
      path: formatPath(segmentsOf(raw)),
      message: issue.message,
    });
  }
  return out;
}

function decodeIssues(
  doc: SourceDocument,
  registry: ProtoRegistry,
  typeName: string,
  value: unknown,
  basePath: PathSegment[],
  partial: boolean,
): FileIssue[] {
  return decodeStrict(registry, typeName, value, { basePath, partial }).map((i) => ({
    severity: i.severity,
    position: doc.locate(i.rawPath, i.atKey),
    path: i.path,
    message: i.message,
  }));
}

function validateEnvoyFilter(doc: SourceDocument, value: Record<string, unknown>, registry: ProtoRegistry): FileResult {
  const issues: FileIssue[] = [];
  const parsed = envoyFilterSchema.safeParse(value);
  if (!parsed.success) issues.push(...zodIssues(doc, parsed.error));
  // Decode every patch value we can, even when the outer shape has problems: report everything at once.
  const spec = value['spec'];
  const patches = isRecord(spec) && Array.isArray(spec['configPatches']) ? spec['configPatches'] : [];
  patches.forEach((cp: unknown, i) => {
    if (!isRecord(cp) || !isRecord(cp['patch']) || cp['patch']['value'] === undefined) return;
    const applyTo = cp['applyTo'];
    const typeName =
      typeof applyTo === 'string' && Object.hasOwn(APPLY_TO_TYPES, applyTo)
        ? APPLY_TO_TYPES[applyTo as ApplyTo]
        : undefined;
    if (typeName === undefined) return; // zod already named the bad applyTo
    const basePath = [
      fieldSegment('spec'),
      fieldSegment('configPatches'),
      indexSegment(i),
      fieldSegment('patch'),
      fieldSegment('value'),
    ];
    // MERGE patches are partial messages: fields they leave out come from Istio's generated config.
    issues.push(
      ...decodeIssues(doc, registry, typeName, cp['patch']['value'], basePath, cp['patch']['operation'] === 'MERGE'),
    );
  });
  const metadata = isRecord(value['metadata']) ? value['metadata'] : {};
  const name = [metadata['namespace'], metadata['name']].filter((s) => typeof s === 'string').join('/');
  return { description: `Istio EnvoyFilter ${name || '(unnamed)'}, ${patches.length} patch(es)`, issues };
}

function validateDocument(doc: SourceDocument, registry: ProtoRegistry): FileResult {
  const value = doc.value;
  // Kubernetes manifests carry apiVersion/kind; a bootstrap has neither field.
  if (isRecord(value) && ('kind' in value || 'apiVersion' in value)) {
    if (value['kind'] === 'EnvoyFilter') return validateEnvoyFilter(doc, value, registry);
    const kind = JSON.stringify(value['kind'] ?? null);
    return {
      description: `Kubernetes ${kind}`,
      issues: [
        {
          severity: 'error',
          position: doc.locate(['kind']),
          path: 'kind',
          message: `unsupported kind ${kind}: expected an Envoy bootstrap or an Istio EnvoyFilter`,
        },
      ],
    };
  }
  return { description: 'Envoy bootstrap', issues: decodeIssues(doc, registry, BOOTSTRAP_TYPE, value, [], false) };
}

/** Validates YAML text; never throws on bad content (every problem becomes an issue). */
export function validateEnvoyYaml(text: string, registry: ProtoRegistry = sharedRegistry()): FileResult {
  const { documents, syntaxIssues } = parseYaml(text);
  const issues: FileIssue[] = syntaxIssues.map((s) => ({
    severity: 'error',
    position: s.position,
    path: '',
    message: `YAML: ${s.message}`,
  }));
  if (documents.length === 0 && issues.length === 0)
    issues.push({ severity: 'error', position: undefined, path: '', message: 'no YAML document' });
  const results = documents.map((doc) => validateDocument(doc, registry));
  for (const r of results) issues.push(...r.issues);
  const description = results.map((r) => r.description).join('; ') || 'YAML';
  return { description, issues };
}

/** Reads and validates one file; rejects only when the file cannot be read. */
export async function validateEnvoyFile(file: string, registry: ProtoRegistry = sharedRegistry()): Promise<FileResult> {
  return validateEnvoyYaml(await readFile(file, 'utf8'), registry);
}
