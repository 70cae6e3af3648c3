// Nesting limits for JSON from the network. JSON.parse copes with any depth, but JSON.stringify, structuredClone
// and every recursive walk overflow the stack a few thousand levels down ("Maximum call stack size exceeded"),
// so bodies are checked once at the boundary and everything behind it may assume shallow JSON. Both checks here
// are iterative: they cannot overflow whatever they are given.

/**
 * The deepest nesting a unified request may have, counted in containers (objects and arrays) from the body itself
 * (the body is depth 1, `tools[0].function.parameters` is depth 5). OpenAI documents 10 levels of nesting for
 * Structured Outputs schemas; 64 leaves room for ~29 levels of `properties` in a tool schema and is far from
 * where any of our walks could overflow.
 */
export const MAX_JSON_DEPTH = 64;

/** Deepest nesting accepted in a provider's response body before it is parsed and re-serialised. */
export const MAX_RESPONSE_JSON_DEPTH = 256;

export interface DepthViolation {
  /** Path of the first container past the limit, e.g. ['tools', 0, 'function', 'parameters', 'properties', …]. */
  readonly path: readonly (string | number)[];
  readonly depth: number;
}

interface Frame {
  readonly value: object;
  readonly depth: number;
  readonly parent: Frame | undefined;
  readonly key: string | number | undefined;
}

function pathOf(frame: Frame): (string | number)[] {
  const path: (string | number)[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) path.push(f.key);
  return path.reverse();
}

/** The first container nested deeper than `maxDepth` in a parsed JSON value, or undefined. Iterative. */
export function findDepthViolation(value: unknown, maxDepth: number = MAX_JSON_DEPTH): DepthViolation | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if (frame.depth > maxDepth) return { path: pathOf(frame), depth: frame.depth };
    const entries: [string | number, unknown][] = Array.isArray(frame.value)
      ? frame.value.map((v: unknown, i) => [i, v])
      : Object.entries(frame.value as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      if (child !== null && typeof child === 'object')
        stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
    }
  }
  return undefined;
}

/** Whether JSON text nests deeper than `maxDepth` (brackets outside strings), without parsing it. Iterative. */
export function jsonTextExceedsDepth(text: Buffer | string, maxDepth: number): boolean {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
