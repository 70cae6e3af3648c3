import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseErrorBody } from './errors.js';

test('non-OpenAI error shapes from compatible servers become OpenAI errors', () => {
  const cases: Array<[number, string, string]> = [
    [400, '{"object":"error","message":"bad temperature"}', 'bad temperature'],
    [404, '{"error":"model not found"}', 'model not found'],
    [422, '{"detail":"unprocessable"}', 'unprocessable'],
    [503, 'no healthy upstream', 'no healthy upstream'],
  ];
  for (const [status, body, message] of cases) {
    const out = normaliseErrorBody(status, Buffer.from(body));
    assert.ok(out);
    const json = JSON.parse(out.toString());
    assert.equal(json.error.message, message);
    assert.equal(json.error.type, status >= 500 ? 'server_error' : 'invalid_request_error');
    assert.ok('param' in json.error && 'code' in json.error);
  }
});

test('OpenAI-shaped errors pass through untouched', () => {
  assert.equal(
    normaliseErrorBody(
      401,
      Buffer.from(
        '{"error":{"message":"bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}',
      ),
    ),
    undefined,
  );
});
