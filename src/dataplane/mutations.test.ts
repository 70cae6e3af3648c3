import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyBodyMutation,
  applyHeaderMutation,
  contentLengthMismatch,
  mutationAllowed,
  type CheckOperation,
} from './mutations.js';
import type { HeaderList } from './headers.js';
import { headerMutation } from './testing/answers.js';

const OPTS = { replacingMessage: false, removeContentLength: false };

function requestHeaders(): HeaderList {
  return [
    [':authority', 'gateway.local'],
    [':path', '/v1/chat/completions'],
    [':method', 'POST'],
    [':scheme', 'http'],
    ['content-type', 'application/json'],
    ['content-length', '13'],
    ['x-keep', 'yes'],
  ];
}

test('default mutation rules: routing, system and x-envoy headers are protected, :path is not', () => {
  const table: Array<[CheckOperation, string, string, boolean]> = [
    ['set', 'host', 'evil', false],
    ['set', ':authority', 'evil', false],
    ['set', ':scheme', 'https', false],
    ['set', ':method', 'GET', false],
    ['set', 'x-envoy-upstream-rq-timeout-ms', '1', false],
    ['remove', 'x-envoy-original-path', '', false],
    ['set', ':path', '/openai/v1/chat/completions', true],
    ['append', ':path', '/x', false],
    ['remove', ':path', '', false],
    ['remove', 'host', '', false],
    ['remove', 'x-custom', '', true],
    ['set', 'x-custom', 'v', true],
    ['append', 'x-custom', 'v', true],
    ['set', ':status', '404', true],
    ['set', ':status', '199', false],
    ['set', ':status', 'abc', false],
  ];
  for (const [op, name, value, allowed] of table) {
    assert.equal(mutationAllowed(op, name, value), allowed, `${op} ${name}=${value}`);
  }
});

test('applyHeaderMutation ignores disallowed changes and applies the rest', () => {
  const headers = requestHeaders();
  const result = applyHeaderMutation(
    headers,
    headerMutation(
      { ':path': '/v2/x', ':authority': 'evil', host: 'evil', ':method': 'GET', 'x-envoy-foo': '1', 'x-new': 'n' },
      [':path', 'host', 'x-keep'],
    ),
    OPTS,
  );
  assert.equal(result.ok, true);
  assert.deepEqual(result.ignored, [
    'remove :path',
    'remove host',
    'set :authority',
    'set host',
    'set :method',
    'set x-envoy-foo',
  ]);
  assert.deepEqual(Object.fromEntries(headers), {
    ':authority': 'gateway.local',
    ':path': '/v2/x',
    ':method': 'POST',
    ':scheme': 'http',
    'content-type': 'application/json',
    'content-length': '13',
    'x-new': 'n',
  });
});

test('set_headers overwrite unless append is true; append_action is not read (Envoy 1.31 ext_proc, still so in 1.40)', () => {
  const headers: HeaderList = [['x-a', '1']];
  applyHeaderMutation(headers, headerMutation({ 'x-a': '2' }), OPTS);
  assert.deepEqual(headers, [['x-a', '2']]);
  applyHeaderMutation(headers, headerMutation({ 'x-a': '3' }, [], true), OPTS);
  assert.deepEqual(headers, [
    ['x-a', '2'],
    ['x-a', '3'],
  ]);
  applyHeaderMutation(
    headers,
    { set_headers: [{ header: { key: 'x-a', raw_value: Buffer.from('4') }, append_action: 'ADD_IF_ABSENT' }] },
    OPTS,
  );
  assert.deepEqual(headers, [['x-a', '4']]);
});

test('header values come from raw_value only; value alone writes an empty header; both set takes raw_value (Envoy 1.40)', () => {
  const headers: HeaderList = [];
  applyHeaderMutation(headers, { set_headers: [{ header: { key: 'x-v', value: 'text' } }] }, OPTS);
  assert.deepEqual(headers, [['x-v', '']]);
  const both = applyHeaderMutation(
    headers,
    { set_headers: [{ header: { key: 'x-v', value: 'a', raw_value: Buffer.from('b') } }] },
    OPTS,
  );
  assert.equal(both.ok, true);
  assert.deepEqual(headers, [['x-v', 'b']]);
});

test('malformed mutations are errors (Envoy answers 500)', () => {
  assert.equal(applyHeaderMutation([], headerMutation({ 'x-bad': 'a\r\nb' }), OPTS).ok, false);
  assert.equal(applyHeaderMutation([], headerMutation({ 'bad name': 'a' }), OPTS).ok, false);
  assert.equal(applyHeaderMutation([], headerMutation({}, ['bad name']), OPTS).ok, false);
  const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`x-${i}`, 'v']));
  assert.equal(applyHeaderMutation([], headerMutation(many), OPTS).ok, false);
});

test(':method may change with CONTINUE_AND_REPLACE; content-length is skipped when the mode strips it', () => {
  const headers = requestHeaders();
  applyHeaderMutation(headers, headerMutation({ ':method': 'PUT', 'content-length': '99' }), {
    replacingMessage: true,
    removeContentLength: true,
  });
  assert.equal(Object.fromEntries(headers)[':method'], 'PUT');
  assert.equal(Object.fromEntries(headers)['content-length'], '13');
});

test('body mutations: body replaces, clear_body empties, none keeps', () => {
  const body = Buffer.from('original');
  assert.equal(applyBodyMutation(body, { mutation: 'body', body: Buffer.from('new') }).toString(), 'new');
  assert.equal(applyBodyMutation(body, { mutation: 'clear_body', clear_body: true }).length, 0);
  assert.equal(applyBodyMutation(body, {}).toString(), 'original');
});

test('content-length must match a mutated body when headers are held (BUFFERED)', () => {
  const headers: HeaderList = [['content-length', '3']];
  assert.equal(contentLengthMismatch(headers, { mutation: 'body', body: Buffer.from('abc') }), undefined);
  assert.match(contentLengthMismatch(headers, { mutation: 'body', body: Buffer.from('abcd') }) ?? '', /mismatch/);
  assert.match(contentLengthMismatch(headers, { mutation: 'clear_body', clear_body: true }) ?? '', /mismatch/);
  assert.equal(contentLengthMismatch([], { mutation: 'body', body: Buffer.from('abcd') }), undefined);
  assert.equal(
    contentLengthMismatch([['content-length', 'junk']], { mutation: 'body', body: Buffer.from('abcd') }),
    undefined,
  );
});
