import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { TEXT_RESPONSE, TOOL_RESPONSE } from './fixtures.js';
import { cohereProvider } from './index.js';
import type { V2ChatResponseRaw } from './sdk-wire.js';

const context: ResponseContext = {
  request: parseChatRequest(JSON.stringify({ model: 'my-alias', messages: [{ role: 'user', content: 'hi' }] })),
  clientWantsUsage: false,
  requestId: 'req-1',
  created: 1_700_000_000,
};
const translate = (body: unknown, status = 200) => {
  const out = cohereProvider.translateResponse(
    status,
    Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    context,
  );
  return { ...out, json: out.body ? JSON.parse(out.body.toString()) : undefined };
};

test('a text answer becomes a chat.completion with the client’s model alias and OpenAI usage', () => {
  const out = translate(TEXT_RESPONSE);
  assert.equal(out.status, undefined);
  assert.deepEqual(out.json, {
    id: '5a50480a-cf52-46f0-af01-53d18539bd31',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'my-alias',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello from Cohere.', refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: {
      prompt_tokens: 71,
      completion_tokens: 4,
      total_tokens: 75,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  });
  assert.deepEqual(out.usage, {
    promptTokens: 71,
    completionTokens: 4,
    totalTokens: 75,
    cachedPromptTokens: 64,
    reasoningTokens: 0,
  });
});

test('tool calls keep their ids, the tool plan is the content, and "null" arguments become {}', () => {
  const out = translate(TOOL_RESPONSE);
  const choice = out.json.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, 'I will look up the weather in Paris and in Oslo.');
  assert.deepEqual(choice.message.tool_calls, [
    {
      id: 'get_weather_p2k9x7m1qz0a',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    },
    {
      id: 'get_weather_h4v8c2n6rt1b',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
    },
    { id: 'get_time_9fjw2k1d8s7e', type: 'function', function: { name: 'get_time', arguments: '{}' } },
  ]);
  const noPlan: V2ChatResponseRaw = {
    ...TOOL_RESPONSE,
    message: { role: 'assistant', tool_calls: TOOL_RESPONSE.message.tool_calls ?? null },
  };
  assert.equal(
    translate(noPlan).json.choices[0].message.content,
    null,
    'no text next to tool calls is content: null, as OpenAI sends',
  );
});

test('finish reasons land in OpenAI’s set', () => {
  const cases: Array<[V2ChatResponseRaw['finish_reason'], string]> = [
    ['COMPLETE', 'stop'],
    ['STOP_SEQUENCE', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['TOOL_CALL', 'tool_calls'],
  ];
  for (const [cohere, openai] of cases)
    assert.equal(translate({ ...TEXT_RESPONSE, finish_reason: cohere }).json.choices[0].finish_reason, openai, cohere);
  assert.equal(translate({ ...TEXT_RESPONSE, finish_reason: 'SOMETHING_NEW' }).json.choices[0].finish_reason, 'stop');
});

test('a failed generation (ERROR, TIMEOUT) is a server error, not a plausible answer; its usage still counts', () => {
  const failed = translate({ ...TEXT_RESPONSE, finish_reason: 'ERROR' });
  assert.equal(failed.status, 502);
  assert.equal(failed.json.error.type, 'server_error');
  assert.equal(failed.json.error.code, 'upstream_error');
  assert.equal(failed.usage?.promptTokens, 71);
  const timeout = translate({ ...TEXT_RESPONSE, finish_reason: 'TIMEOUT' });
  assert.equal(timeout.status, 504);
  assert.equal(timeout.json.error.code, 'upstream_timeout');
});

test('usage falls back to billed units when token counts are missing; cached never exceeds the prompt', () => {
  const out = translate({
    ...TEXT_RESPONSE,
    usage: { billed_units: { input_tokens: 5, output_tokens: 4 }, cached_tokens: 99 },
  });
  assert.deepEqual(out.usage, {
    promptTokens: 5,
    completionTokens: 4,
    totalTokens: 9,
    cachedPromptTokens: 5,
    reasoningTokens: 0,
  });
  const none = translate({ ...TEXT_RESPONSE, usage: undefined });
  assert.equal(none.usage, undefined);
  assert.equal('usage' in none.json, false);
});

test('thinking blocks are left out of the content', () => {
  const out = translate({
    ...TEXT_RESPONSE,
    message: {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'hmm' },
        { type: 'text', text: 'A.' },
      ],
    },
  });
  assert.equal(out.json.choices[0].message.content, 'A.');
});

// The status → error table itself is specified in ../error-codes.test.ts; here, that a response uses it.
test('a Cohere error response becomes the OpenAI error body (498 → 401 authentication_error)', () => {
  const out = translate({ id: 'e1', message: 'failure 498' }, 498);
  assert.equal(out.status, 401);
  assert.deepEqual(out.json, {
    error: { message: 'failure 498', type: 'authentication_error', param: null, code: 'invalid_api_key' },
  });
  const plain = translate('upstream connect error', 503);
  assert.equal(plain.json.error.message, 'upstream connect error');
});

test('a 2xx body that is not JSON is a 502', () => {
  const out = translate('<html>', 200);
  assert.equal(out.status, 502);
  assert.equal(out.json.error.type, 'server_error');
});
