import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FinishReason } from '@google/genai';
import type { ChatCompletion, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import {
  BAD_KEY_ERROR,
  BLOCKED_PROMPT_RESPONSE,
  NOT_FOUND_ERROR,
  OVERLOADED_ERROR,
  PERMISSION_DENIED_ERROR,
  RATE_LIMITED_ERROR,
  TEXT_RESPONSE,
  THOUGHT_PARTS_RESPONSE,
  TOOL_CALL_RESPONSE,
  TWO_CANDIDATES_RESPONSE,
  UNAUTHENTICATED_ERROR,
  finishedWith,
} from './fixtures.js';
import { translateResponse } from './response.js';
import { GeminiStreamTranslator } from './stream.js';
import { signatureFromToolCallId } from './tool-ids.js';

const context = (fields: Record<string, unknown> = {}): ResponseContext => ({
  request: parseChatRequest(
    JSON.stringify({ model: 'my-gemini', messages: [{ role: 'user', content: 'hi' }], ...fields }),
  ),
  clientWantsUsage: false,
  requestId: 'req-42',
  created: 1_700_000_000,
});

/** The unified body, read with the openai SDK's own types. */
function translate(body: unknown, status = 200, ctx = context()) {
  const out = translateResponse(status, Buffer.from(JSON.stringify(body)), ctx);
  const json: unknown = out.body ? JSON.parse(out.body.toString()) : undefined;
  return { ...out, json, completion: json as ChatCompletion, error: json as OpenAIErrorBody };
}

const toolCalls = (completion: ChatCompletion) =>
  (completion.choices[0]?.message.tool_calls ?? []) as ChatCompletionMessageFunctionToolCall[];

test('a text answer becomes a chat.completion naming the model that answered (modelVersion) and OpenAI usage', () => {
  const { json, usage, status } = translate(TEXT_RESPONSE);
  assert.equal(status, undefined);
  assert.deepEqual(json, {
    id: 'chatcmpl-resp-text-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gemini-2.5-flash',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'The capital of France is Paris.', refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: {
      prompt_tokens: 9,
      completion_tokens: 8,
      total_tokens: 17,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  });
  assert.deepEqual(usage, {
    promptTokens: 9,
    completionTokens: 8,
    totalTokens: 17,
    cachedPromptTokens: 0,
    reasoningTokens: 0,
  });
});

test('function calls become tool_calls with deterministic ids, JSON arguments, and finish_reason tool_calls', () => {
  const { completion } = translate(TOOL_CALL_RESPONSE);
  const choice = completion.choices[0]!;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, 'Let me check both cities.');
  assert.deepEqual(
    toolCalls(completion).map((c) => ({ ...c, id: c.id.split('__sig_')[0] })),
    [
      {
        id: 'call_0_0_resptool1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      },
      { id: 'call_0_1_resptool1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
    ],
  );
  // The same response always yields the same ids.
  assert.deepEqual(translate(TOOL_CALL_RESPONSE).completion.choices[0]?.message.tool_calls, choice.message.tool_calls);
});

test('a Gemini 3 thought signature rides in the tool-call id and decodes back exactly', () => {
  const [signed, unsigned] = toolCalls(translate(TOOL_CALL_RESPONSE).completion);
  assert.ok(signed && unsigned);
  assert.match(signed.id, /^[A-Za-z0-9_-]+$/, 'ids stay portable to other providers');
  assert.equal(signatureFromToolCallId(signed.id), 'c2lnbmF0dXJlLW9uZQ==');
  assert.equal(signatureFromToolCallId(unsigned.id), undefined);
});

test('usage: prompt includes tool-use prompt tokens and cache hits; completion includes thoughts', () => {
  const { completion, usage } = translate(TOOL_CALL_RESPONSE);
  assert.deepEqual(completion.usage, {
    prompt_tokens: 125,
    completion_tokens: 80,
    total_tokens: 205,
    prompt_tokens_details: { cached_tokens: 100 },
    completion_tokens_details: { reasoning_tokens: 50 },
  });
  assert.deepEqual(usage, {
    promptTokens: 125,
    completionTokens: 80,
    totalTokens: 205,
    cachedPromptTokens: 100,
    reasoningTokens: 50,
  });
});

test('n > 1: each candidate becomes a choice at its index with its own finish reason', () => {
  const { completion } = translate(TWO_CANDIDATES_RESPONSE, 200, context({ n: 2 }));
  assert.deepEqual(
    completion.choices.map((c) => [c.index, c.message.content, c.finish_reason]),
    [
      [0, 'Heads.', 'stop'],
      [1, 'Tails, and then some', 'length'],
    ],
  );
});

test('thought summaries are not part of the answer', () => {
  const { completion } = translate(THOUGHT_PARTS_RESPONSE);
  assert.equal(completion.choices[0]?.message.content, '42');
  assert.equal(completion.usage?.completion_tokens_details?.reasoning_tokens, 12);
});

// The finish-reason table itself is specified in ../finish-reasons.test.ts; here, that the response uses it.
test('the candidate’s finish reason becomes the choice’s (MAX_TOKENS → length, SAFETY → content_filter, no text)', () => {
  assert.equal(translate(finishedWith(FinishReason.MAX_TOKENS)).completion.choices[0]?.finish_reason, 'length');
  assert.equal(translate(finishedWith(FinishReason.SAFETY)).completion.choices[0]?.finish_reason, 'content_filter');
  assert.equal(
    translate(finishedWith(FinishReason.SAFETY)).completion.choices[0]?.message.content,
    null,
    'no text, no content',
  );
});

test('an unknown future finish reason is stop', () => {
  const response = {
    ...TEXT_RESPONSE,
    candidates: [{ ...TEXT_RESPONSE.candidates![0], finishReason: 'SOMETHING_NEW' }],
  };
  assert.equal(translate(response).completion.choices[0]?.finish_reason, 'stop');
});

test('a blocked prompt (no candidates) answers content_filter for every requested choice', () => {
  const { completion, usage, status } = translate(BLOCKED_PROMPT_RESPONSE, 200, context({ n: 2 }));
  assert.equal(status, undefined);
  assert.deepEqual(completion.choices, [
    {
      index: 0,
      message: { role: 'assistant', content: null, refusal: null },
      finish_reason: 'content_filter',
      logprobs: null,
    },
    {
      index: 1,
      message: { role: 'assistant', content: null, refusal: null },
      finish_reason: 'content_filter',
      logprobs: null,
    },
  ]);
  assert.equal(usage?.promptTokens, 9);
});

test('a 2xx body that is not a Gemini response is a 502 in the OpenAI error shape', () => {
  for (const body of [{ candidates: [] }, { something: 'else' }]) {
    const { error, status } = translate(body);
    assert.equal(status, 502);
    assert.equal(error.error.type, 'server_error');
  }
  assert.equal(translateResponse(200, Buffer.from('not json'), context()).status, 502);
});

test('the completion id falls back to the request id when Gemini sends no responseId', () => {
  const { responseId: _drop, ...anonymous } = TEXT_RESPONSE;
  assert.equal(translate(anonymous).completion.id, 'chatcmpl-req-42');
});

test('RESOURCE_EXHAUSTED stays 429 and RetryInfo becomes a retry-after header (rounded up)', () => {
  const { json, status, headers } = translate(RATE_LIMITED_ERROR, 429);
  assert.equal(status, undefined, 'the status is already right');
  assert.deepEqual(headers, { 'retry-after': '35' });
  assert.deepEqual(json, {
    error: {
      message: RATE_LIMITED_ERROR.error.message,
      type: 'rate_limit_error',
      param: null,
      code: 'rate_limit_exceeded',
    },
  });
});

test('Google statuses map to HTTP statuses and OpenAI error types', () => {
  const cases: Array<[unknown, number, number | undefined, string, string]> = [
    [OVERLOADED_ERROR, 503, undefined, 'server_error', 'unavailable'],
    [BAD_KEY_ERROR, 400, undefined, 'invalid_request_error', 'invalid_argument'],
    [NOT_FOUND_ERROR, 404, undefined, 'invalid_request_error', 'not_found'],
    [UNAUTHENTICATED_ERROR, 401, undefined, 'authentication_error', 'unauthenticated'],
    [PERMISSION_DENIED_ERROR, 403, undefined, 'permission_error', 'permission_denied'],
    // A proxy in between may change the HTTP status; the Google status decides.
    [{ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }, 500, 503, 'server_error', 'unavailable'],
    [
      { error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' } },
      400,
      429,
      'rate_limit_error',
      'rate_limit_exceeded',
    ],
  ];
  for (const [body, upstream, expected, type, code] of cases) {
    const out = translate(body, upstream);
    assert.equal(out.status, expected, JSON.stringify(body));
    assert.equal(out.error.error.type, type);
    assert.equal(out.error.error.code, code);
    assert.equal(out.headers, undefined, 'no retry-after without RetryInfo');
  }
});

test('a non-Google error body (e.g. a proxy’s HTML page) is normalised to the OpenAI shape', () => {
  const out = translateResponse(502, Buffer.from('<html>Bad Gateway</html>'), context());
  assert.equal(out.status, undefined);
  const json = JSON.parse(out.body!.toString()) as OpenAIErrorBody;
  assert.equal(json.error.message, '<html>Bad Gateway</html>');
  assert.equal(json.error.type, 'server_error');
});

test('logprobsResult becomes OpenAI logprobs (chosen tokens with their alternatives), whole and streamed', () => {
  const candidate = {
    content: { role: 'model', parts: [{ text: 'Hi!' }] },
    finishReason: 'STOP',
    logprobsResult: {
      chosenCandidates: [
        { token: 'Hi', logProbability: -0.1 },
        { token: '!', logProbability: -0.5 },
      ],
      topCandidates: [
        {
          candidates: [
            { token: 'Hi', logProbability: -0.1 },
            { token: 'Hello', logProbability: -2.3 },
          ],
        },
        { candidates: [{ token: '!', logProbability: -0.5 }] },
      ],
    },
  };
  const { completion } = translate({ candidates: [candidate] }, 200, context({ logprobs: true, top_logprobs: 2 }));
  assert.deepEqual(completion.choices[0]?.logprobs, {
    content: [
      {
        token: 'Hi',
        logprob: -0.1,
        bytes: [72, 105],
        top_logprobs: [
          { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
          { token: 'Hello', logprob: -2.3, bytes: [72, 101, 108, 108, 111] },
        ],
      },
      { token: '!', logprob: -0.5, bytes: [33], top_logprobs: [{ token: '!', logprob: -0.5, bytes: [33] }] },
    ],
    refusal: null,
  });
  // Without logprobsResult the field stays null.
  assert.equal(
    translate({ candidates: [{ ...candidate, logprobsResult: undefined }] }).completion.choices[0]?.logprobs,
    null,
  );
  // Streams carry each event's tokens on its content delta.
  const stream = new GeminiStreamTranslator(context({ logprobs: true, stream: true }));
  const out = stream.push(Buffer.from(`data: ${JSON.stringify({ candidates: [candidate] })}\r\n\r\n`)).toString();
  const first = JSON.parse(out.split('\n\n')[0]!.slice('data: '.length)) as {
    choices: Array<{ logprobs: { content: unknown[] } | null }>;
  };
  assert.equal(first.choices[0]?.logprobs?.content.length, 2);
});
