import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinPath } from './http.js';

test('base URL path prefixes and queries are kept', () => {
  assert.equal(joinPath(new URL('http://h/openai/v1/'), '/chat/completions'), '/openai/v1/chat/completions');
  assert.equal(
    joinPath(new URL('http://h/v1?api-version=2024'), '/chat/completions'),
    '/v1/chat/completions?api-version=2024',
  );
});
