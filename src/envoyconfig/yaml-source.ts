// YAML text → plain JS documents that remember where each key and value came from, so a decoder issue's raw
// path (keys and indexes) can be turned back into line:column.
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document } from 'yaml';

export interface Position {
  readonly line: number;
  readonly col: number;
}

export interface SourceDocument {
  /** 0-based index among the non-empty documents of the stream. */
  readonly index: number;
  readonly value: unknown;
  /** Position of the value (or of its key, with atKey) at rawPath; the nearest existing ancestor otherwise. */
  locate(rawPath: readonly (string | number)[], atKey?: boolean): Position | undefined;
}

export interface YamlSyntaxIssue {
  readonly position: Position | undefined;
  readonly message: string;
}

export interface ParsedYaml {
  readonly documents: SourceDocument[];
  readonly syntaxIssues: YamlSyntaxIssue[];
}

interface Ranged {
  range?: readonly [number, number, number] | null;
}

function startOf(node: unknown): number | undefined {
  const range = (node as Ranged | null | undefined)?.range;
  return range ? range[0] : undefined;
}

function locateIn(doc: Document, rawPath: readonly (string | number)[], atKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let best = startOf(node);
  let keyNode: unknown;
  let depth = 0;
  for (const seg of rawPath) {
    // An alias (*name) stands for the anchored node: positions inside it point at the anchor's text.
    if (isAlias(node)) node = node.resolve(doc);
    keyNode = undefined;
    if (isMap(node) && typeof seg === 'string') {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
    } else {
      break;
    }
    depth++;
    best = startOf(node) ?? startOf(keyNode) ?? best;
  }
  if (depth === rawPath.length && atKey) return startOf(keyNode) ?? best;
  return best;
}

export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const stream = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const toPosition = (offset: number | undefined): Position | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset);
  const docs = Array.isArray(stream) ? stream : [];
  const syntaxIssues: YamlSyntaxIssue[] = [];
  const documents: SourceDocument[] = [];
  for (const doc of docs) {
    for (const err of doc.errors) syntaxIssues.push({ position: toPosition(err.pos[0]), message: err.message });
    if (doc.errors.length > 0 || doc.contents === null) continue;
    const value: unknown = doc.toJS();
    documents.push({
      index: documents.length,
      value,
      locate: (rawPath, atKey = false) => toPosition(locateIn(doc, rawPath, atKey)),
    });
  }
  return { documents, syntaxIssues };
}
