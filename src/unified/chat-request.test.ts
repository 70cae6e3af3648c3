import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientWantsStreamUsage, parseChatRequest } from './chat-request.js';
import { UnifiedError } from './errors.js';

function rejection(body: string): UnifiedError {
  try {
    parseChatRequest(body);
  } catch (err) {
    assert.ok(err instanceof UnifiedError);
    return err;
  }
  assert.fail('expected a rejection');
}

test('a minimal request parses and unknown fields pass through', () => {
  const request = parseChatRequest('{"model":"m","messages":[{"role":"user","content":"hi"}],"future_field":{"x":1}}');
  assert.equal(request.model, 'm');
  assert.deepEqual((request as Record<string, unknown>).future_field, { x: 1 });
});

test('malformed JSON is a 400 invalid_json', () => {
  const err = rejection('{"model":');
  assert.equal(err.status, 400);
  assert.equal(err.code, 'invalid_json');
});

test('a JSON array is not a request', () => {
  assert.equal(rejection('[]').code, 'invalid_json');
});

test('schema violations are 400s that name the field in param', () => {
  const missing = rejection('{"model":"m"}');
  assert.equal(missing.status, 400);
  assert.equal(missing.param, 'messages');
  assert.match(missing.message, /Missing required parameter: 'messages'/);

  const badRole = rejection('{"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}');
  assert.equal(badRole.param, 'messages[1].role');

  const temperature = rejection('{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":3}');
  assert.equal(temperature.param, 'temperature');
  assert.match(temperature.message, /Invalid value for 'temperature'/);

  const toolMessage = rejection('{"model":"m","messages":[{"role":"tool","content":"r"}]}');
  assert.equal(toolMessage.param, 'messages[0].tool_call_id');
});

test('stream usage is wanted only when streaming with include_usage', () => {
  const base = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
  assert.equal(clientWantsStreamUsage(parseChatRequest(JSON.stringify({ ...base, stream: true }))), false);
  assert.equal(
    clientWantsStreamUsage(
      parseChatRequest(JSON.stringify({ ...base, stream: true, stream_options: { include_usage: true } })),
    ),
    true,
  );
  assert.equal(
    clientWantsStreamUsage(parseChatRequest(JSON.stringify({ ...base, stream_options: { include_usage: true } }))),
    false,
  );
});

test('JSON nested deeper than 64 levels is a 400 naming the field, wherever it is', () => {
  // As text: JSON.stringify itself overflows on values this deep.
  const deepSchema = (levels: number) =>
    '{"type":"object","properties":{"a":'.repeat(levels) + '{"type":"string"}' + '}}'.repeat(levels);
  const head = '{"model":"m","messages":[{"role":"user","content":"hi"}]';
  let err = rejection(
    `${head},"tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(3000)}}}]}`,
  );
  assert.equal(err.status, 400);
  assert.equal(err.param, 'tools[0].function.parameters');
  assert.match(err.message, /nested more than 64 levels/);
  err = rejection(
    `${head},"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":${deepSchema(3000)}}}}`,
  );
  assert.equal(err.param, 'response_format.json_schema.schema');
  const chain = '{"a":'.repeat(6000) + '1' + '}'.repeat(6000);
  assert.equal(
    rejection(`{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":${chain}}`).param,
    'metadata',
  );
  assert.equal(
    rejection(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x_unknown":${chain}}`).param,
    'x_unknown',
  );
  // Within the limit: a 20-level schema (deeper than OpenAI's documented 10) is accepted.
  assert.doesNotThrow(() =>
    parseChatRequest(`${head},"tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(20)}}}]}`),
  );
});
