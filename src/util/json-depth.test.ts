import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findDepthViolation, jsonTextExceedsDepth } from './json-depth.js';

function nested(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let at = root;
  for (let i = 1; i < levels; i++) {
    const next: Record<string, unknown> = {};
    at.a = next;
    at = next;
  }
  return root;
}

test('findDepthViolation names the first container past the limit, and never overflows', () => {
  assert.equal(findDepthViolation(nested(64), 64), undefined);
  assert.deepEqual(findDepthViolation({ x: [nested(3)] }, 3), { path: ['x', 0, 'a'], depth: 4 });
  const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown;
  assert.equal(findDepthViolation(deep, 64)?.depth, 65);
  assert.equal(findDepthViolation('text', 1), undefined);
});

test('jsonTextExceedsDepth counts brackets outside strings only', () => {
  assert.equal(jsonTextExceedsDepth('{"a":"[[[[{{{{\\"[[["}', 1), false);
  assert.equal(jsonTextExceedsDepth('{"a":[{}]}', 3), false);
  assert.equal(jsonTextExceedsDepth('{"a":[{}]}', 2), true);
  assert.equal(jsonTextExceedsDepth('['.repeat(1_000_000), 256), true);
});

test('parseJson refuses JSON nested past MAX_RESPONSE_JSON_DEPTH (what it returns is walked and re-serialised)', async () => {
  const { parseJson } = await import('./json.js');
  const { MAX_RESPONSE_JSON_DEPTH } = await import('./json-depth.js');
  const nest = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
  assert.ok(Array.isArray(parseJson(nest(MAX_RESPONSE_JSON_DEPTH))));
  assert.equal(parseJson(nest(MAX_RESPONSE_JSON_DEPTH + 1)), undefined);
  const deep = `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}]}}]}`;
  assert.equal(parseJson(deep), undefined);
  assert.equal(parseJson(Buffer.from(deep)), undefined);
});
