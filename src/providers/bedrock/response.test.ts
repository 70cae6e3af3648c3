// Converse responses and HTTP errors → unified output. Fixtures are typed with the SDK (fixtures.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { JSON_RESPONSE, stoppedWith, TEXT_RESPONSE, TOOL_RESPONSE, type ConverseResponseWire } from './fixtures.js';
import { translateResponse } from './response.js';

function context(extra: Record<string, unknown> = {}): ResponseContext {
  const request = parseChatRequest(
    JSON.stringify({ model: 'claude-alias', messages: [{ role: 'user', content: 'hi' }], ...extra }),
  );
  return { request, clientWantsUsage: false, requestId: 'req-9', created: 1_700_000_123 };
}

function ok(response: ConverseResponseWire, ctx = context()) {
  const out = translateResponse(200, Buffer.from(JSON.stringify(response)), ctx);
  assert.ok(out.body);
  return { ...out, json: JSON.parse(out.body.toString()) };
}

function failed(status: number, body: string) {
  const out = translateResponse(status, Buffer.from(body), context());
  assert.ok(out.body);
  return { ...out, json: JSON.parse(out.body.toString()) };
}

describe('completions', () => {
  test('a text answer becomes a chat.completion with usage in OpenAI’s meaning', () => {
    const { json, usage, status } = ok(TEXT_RESPONSE);
    assert.equal(status, undefined);
    assert.deepEqual(json, {
      id: 'chatcmpl-req-9',
      object: 'chat.completion',
      created: 1_700_000_123,
      model: 'claude-alias',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Paris is the capital of France.', refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      // input 12 + cache read 100 + cache write 10: OpenAI's prompt_tokens includes cached tokens.
      usage: {
        prompt_tokens: 122,
        completion_tokens: 8,
        total_tokens: 130,
        prompt_tokens_details: { cached_tokens: 100 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    assert.deepEqual(usage, {
      promptTokens: 122,
      completionTokens: 8,
      totalTokens: 130,
      cachedPromptTokens: 100,
      reasoningTokens: 0,
    });
  });

  test('toolUse blocks become tool_calls with Bedrock’s ids and JSON-string arguments, in order', () => {
    const { json } = ok(TOOL_RESPONSE);
    const choice = json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, 'Let me check both cities.');
    assert.deepEqual(choice.message.tool_calls, [
      {
        id: 'tooluse_Paris01',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      },
      { id: 'tooluse_Tokyo02', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
    ]);
  });

  test('an answer of tool calls only has content null', () => {
    const toolsOnly: ConverseResponseWire = {
      ...TOOL_RESPONSE,
      output: { message: { role: 'assistant', content: TOOL_RESPONSE.output?.message?.content?.slice(1) } },
    };
    assert.equal(ok(toolsOnly).json.choices[0].message.content, null);
  });

  test('JSON mode: the forced tool’s input is the content, finish_reason stop, no tool_calls', () => {
    const { json } = ok(JSON_RESPONSE, context({ response_format: { type: 'json_object' } }));
    const choice = json.choices[0];
    assert.deepEqual(JSON.parse(choice.message.content), { name: 'Ada', languages: ['en', 'fr'] });
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.tool_calls, undefined);
  });

  test('reasoning blocks have no Chat Completions field and are dropped', () => {
    const reasoning: ConverseResponseWire = {
      ...TEXT_RESPONSE,
      output: {
        message: {
          role: 'assistant',
          content: [
            { reasoningContent: { reasoningText: { text: 'thinking…', signature: 'sig' } } },
            { text: 'Answer.' },
          ],
        },
      },
    };
    assert.equal(ok(reasoning).json.choices[0].message.content, 'Answer.');
  });

  // The stop-reason table itself is specified in ../finish-reasons.test.ts; here, that the response uses it.
  test('the stop reason becomes the choice’s finish_reason (max_tokens → length; none → stop)', () => {
    assert.equal(ok(stoppedWith('max_tokens')).json.choices[0].finish_reason, 'length');
    assert.equal(ok(stoppedWith(undefined)).json.choices[0].finish_reason, 'stop');
  });

  test('malformed output is a 502 error naming the stop reason; the tokens spent are still counted', () => {
    for (const reason of ['malformed_model_output', 'malformed_tool_use'] as const) {
      const { json, status, usage } = ok(stoppedWith(reason));
      assert.equal(status, 502);
      assert.equal(json.error.code, reason);
      assert.equal(json.error.type, 'server_error');
      assert.equal(usage?.totalTokens, 8);
    }
  });

  test('a 200 that is not a Converse response is a 502', () => {
    for (const body of ['not json', '{"output":{}}', '[]']) {
      const out = translateResponse(200, Buffer.from(body), context());
      assert.equal(out.status, 502);
      assert.equal(JSON.parse(out.body!.toString()).error.code, 'unreadable_response');
    }
  });
});

describe('HTTP errors', () => {
  test('a ValidationException stays a 400 with Bedrock’s message in the OpenAI shape', () => {
    const { json, status } = failed(
      400,
      '{"message":"The content field in the Message object at messages.1 is empty."}',
    );
    assert.equal(status, undefined, 'the status is unchanged');
    assert.deepEqual(json, {
      error: {
        message: 'The content field in the Message object at messages.1 is empty.',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
  });

  test('each documented status maps to a sensible client status and type', () => {
    const TABLE: Array<[number, number, string]> = [
      [403, 403, 'permission_error'], // AccessDeniedException
      [404, 404, 'invalid_request_error'], // ResourceNotFoundException
      [408, 504, 'server_error'], // ModelTimeoutException
      [424, 502, 'server_error'], // ModelErrorException
      [429, 429, 'rate_limit_error'], // ThrottlingException: stays 429 so retry policies act
      [500, 500, 'server_error'], // InternalServerException
      [503, 503, 'server_error'], // ServiceUnavailableException
      [418, 418, 'invalid_request_error'],
      [599, 599, 'server_error'],
    ];
    for (const [upstream, client, type] of TABLE) {
      const { json, status } = failed(upstream, '{"message":"x"}');
      assert.equal(status ?? upstream, client, `HTTP ${upstream}`);
      assert.equal(json.error.type, type, `HTTP ${upstream}`);
    }
  });

  test('`Message` spellings and non-JSON bodies still give a message', () => {
    assert.equal(failed(403, '{"Message":"User is not authorized"}').json.error.message, 'User is not authorized');
    assert.equal(failed(502, '<html>Bad Gateway</html>').json.error.message, '<html>Bad Gateway</html>');
    assert.equal(failed(500, '').json.error.message, 'Bedrock returned HTTP 500');
  });
});
