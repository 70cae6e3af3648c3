// Specification of the whole-response translation: Anthropic Message → OpenAI chat.completion, and errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { JSON_TOOL_MESSAGE, message, TEXT_MESSAGE, THINKING_MESSAGE, TOOL_MESSAGE, usage } from './fixtures.js';
import { anthropicProvider } from './index.js';
import type { ChatCompletion } from './response.js';
import type { OpenAIErrorBody } from '../../unified/errors.js';

const CREATED = 1_700_000_000;

function context(extra: Record<string, unknown> = {}): ResponseContext {
  const request = parseChatRequest(
    JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], ...extra }),
  );
  return { request, clientWantsUsage: false, requestId: 'req-1', created: CREATED };
}

function rewritten(status: number, body: unknown, ctx: ResponseContext) {
  const out = anthropicProvider.translateResponse(
    status,
    Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    ctx,
  );
  assert.ok(out.body, 'Anthropic bodies are always rewritten');
  return { out, text: out.body.toString() };
}

function translate(status: number, body: unknown, ctx = context()) {
  const { out, text } = rewritten(status, body, ctx);
  return { ...out, json: JSON.parse(text) as ChatCompletion };
}

function translateError(status: number, body: unknown, ctx = context()) {
  const { out, text } = rewritten(status, body, ctx);
  return { ...out, json: JSON.parse(text) as OpenAIErrorBody };
}

describe('successful responses', () => {
  test('a text answer becomes a chat.completion naming the model that answered (Anthropic’s model field) and OpenAI usage', () => {
    const out = translate(200, TEXT_MESSAGE);
    assert.equal(out.status, undefined, 'status unchanged');
    assert.deepEqual(out.json, {
      id: 'chatcmpl-msg_01TextAnswer',
      object: 'chat.completion',
      created: CREATED,
      model: 'claude-sonnet-4-5-20250929',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello! How can I help?', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      // prompt = 21 input + 100 cache read + 8 cache creation; cached = the cache reads.
      usage: {
        prompt_tokens: 129,
        completion_tokens: 9,
        total_tokens: 138,
        prompt_tokens_details: { cached_tokens: 100 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    assert.deepEqual(out.usage, {
      promptTokens: 129,
      completionTokens: 9,
      totalTokens: 138,
      cachedPromptTokens: 100,
      reasoningTokens: 0,
    });
  });

  test('tool_use blocks become tool_calls with JSON-string arguments, in order; finish_reason tool_calls', () => {
    const { json } = translate(200, TOOL_MESSAGE);
    assert.deepEqual(json.choices[0]?.message, {
      role: 'assistant',
      content: 'Let me check both.',
      refusal: null,
      tool_calls: [
        {
          id: 'toolu_01Weather',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
        },
        { id: 'toolu_02Time', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
    });
    assert.equal(json.choices[0]?.finish_reason, 'tool_calls');
  });

  test('content is null when the answer is only tool calls', () => {
    const onlyTool = { ...TOOL_MESSAGE, content: TOOL_MESSAGE.content.slice(1) };
    assert.equal(translate(200, onlyTool).json.choices[0]?.message.content, null);
  });

  test('thinking blocks are not shown; their tokens are reasoning tokens within completion tokens', () => {
    const { json } = translate(200, THINKING_MESSAGE);
    assert.equal(json.choices[0]?.message.content, '42');
    assert.deepEqual(json.usage.completion_tokens_details, { reasoning_tokens: 140 });
    assert.equal(json.usage.completion_tokens, 150);
  });

  test('in JSON mode (json_object) the forced tool’s input is the content and the finish is stop', () => {
    const { json } = translate(200, JSON_TOOL_MESSAGE, context({ response_format: { type: 'json_object' } }));
    assert.deepEqual(json.choices[0]?.message, {
      role: 'assistant',
      content: '{"answer":42,"unit":"none"}',
      refusal: null,
    });
    assert.equal(json.choices[0]?.finish_reason, 'stop');
  });

  test('JSON mode cut by max_tokens finishes with length', () => {
    const { json } = translate(
      200,
      { ...JSON_TOOL_MESSAGE, stop_reason: 'max_tokens' },
      context({ response_format: { type: 'json_object' } }),
    );
    assert.equal(json.choices[0]?.finish_reason, 'length');
  });

  test('a 2xx body that is not a Message is a 502 in the OpenAI shape', () => {
    const out = translateError(200, '<html>gateway</html>');
    assert.equal(out.status, 502);
    assert.equal(out.json.error.code, 'upstream_error');
  });

  test('missing usage fields count as zero', () => {
    const bare = {
      ...message('msg_x', [{ type: 'text', text: 'ok', citations: null }], 'end_turn', usage({ input: 3, output: 1 })),
      usage: { input_tokens: 3, output_tokens: 1 },
    };
    assert.deepEqual(translate(200, bare).usage, {
      promptTokens: 3,
      completionTokens: 1,
      totalTokens: 4,
      cachedPromptTokens: 0,
      reasoningTokens: 0,
    });
  });
});

describe('error responses', () => {
  const anthropicError = (type: string, message: string, extra: Record<string, unknown> = {}) => ({
    type: 'error',
    error: { type, message, ...extra },
    request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
  });

  test('an Anthropic error becomes {"error":{message,type,param,code}} with the same status', () => {
    const out = translateError(400, anthropicError('invalid_request_error', 'max_tokens: Field required'));
    assert.equal(out.status, undefined);
    assert.deepEqual(out.json, {
      error: {
        message: 'max_tokens: Field required (Anthropic request id: req_011CSHoEeqs5C35K2UUqR7Fy)',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_request_error',
      },
    });
  });

  test('statuses: 529 overloaded becomes 503 (retriable); 429 stays 429 and its headers (retry-after) are left alone', () => {
    const overloaded = translateError(529, anthropicError('overloaded_error', 'Overloaded'));
    assert.equal(overloaded.status, 503);
    assert.equal(overloaded.json.error.type, 'server_error');
    assert.equal(overloaded.json.error.code, 'overloaded_error');

    const limited = translateError(
      429,
      anthropicError('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'),
    );
    assert.equal(limited.status, undefined);
    assert.equal(limited.headers, undefined);
    assert.equal(limited.json.error.code, 'rate_limit_error');
  });

  test('details.error_code, when Anthropic gives one, is the code', () => {
    const out = translateError(
      429,
      anthropicError('rate_limit_error', 'Spend limit reached', {
        details: { error_code: 'enforced_spend_limit_reached' },
      }),
    );
    assert.equal(out.json.error.code, 'enforced_spend_limit_reached');
  });

  test('each Anthropic error type keeps its status and gets an OpenAI type', () => {
    const table: Array<[number, string, number, string]> = [
      [401, 'authentication_error', 401, 'invalid_request_error'],
      [402, 'billing_error', 402, 'invalid_request_error'],
      [403, 'permission_error', 403, 'invalid_request_error'],
      [404, 'not_found_error', 404, 'invalid_request_error'],
      [413, 'request_too_large', 413, 'invalid_request_error'],
      [500, 'api_error', 500, 'server_error'],
      [504, 'timeout_error', 504, 'server_error'],
      [529, 'overloaded_error', 503, 'server_error'],
    ];
    for (const [status, type, expectedStatus, openAIType] of table) {
      const out = translateError(status, anthropicError(type, 'x'));
      assert.equal(out.status ?? status, expectedStatus, type);
      assert.equal(out.json.error.type, openAIType, type);
      assert.equal(out.json.error.code, type);
    }
  });

  test('an error body that is not Anthropic’s (e.g. a proxy page) still reaches the client in the OpenAI shape', () => {
    const out = translateError(502, '<html><body>Bad gateway</body></html>');
    assert.equal(out.json.error.type, 'server_error');
    assert.match(out.json.error.message, /Bad gateway/);
    assert.ok('param' in out.json.error && 'code' in out.json.error);
    const overloadedPage = translateError(529, 'Overloaded');
    assert.equal(overloadedPage.status, 503);
  });
});
