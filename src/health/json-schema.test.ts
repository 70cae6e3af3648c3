import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateJsonSchema } from './json-schema.js';

const schema = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 1 },
    tags: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 3 },
    kind: { enum: ['a', 'b'] },
    nested: { $ref: '#/$defs/point' },
    either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    nullable: { type: ['number', 'null'] },
  },
  required: ['id'],
  additionalProperties: false,
  $defs: {
    point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] },
  },
};

const cases: Array<[string, unknown, boolean]> = [
  ['minimal', { id: 1 }, true],
  ['everything', { id: 2, tags: ['x'], kind: 'b', nested: { x: 1, y: 2.5 }, either: null, nullable: 3 }, true],
  ['missing required', {}, false],
  ['float for integer', { id: 1.5 }, false],
  ['below minimum', { id: 0 }, false],
  ['extra property', { id: 1, z: 1 }, false],
  ['too many items', { id: 1, tags: ['a', 'b', 'c', 'd'] }, false],
  ['empty string item', { id: 1, tags: [''] }, false],
  ['not in enum', { id: 1, kind: 'c' }, false],
  ['$ref violated', { id: 1, nested: { x: 1 } }, false],
  ['anyOf violated', { id: 1, either: 3 }, false],
  ['type list violated', { id: 1, nullable: 'x' }, false],
  ['not an object', [1], false],
];

describe('JSON schema subset', () => {
  for (const [name, value, ok] of cases) {
    test(`${ok ? 'accepts' : 'rejects'} ${name}`, () => {
      const problem = validateJsonSchema(value, schema);
      assert.equal(problem === undefined, ok, problem);
    });
  }
  test('unknown keywords are ignored (never a false failure)', () => {
    assert.equal(validateJsonSchema('abc', { type: 'string', format: 'email', pattern: '^x' }), undefined);
  });
});
