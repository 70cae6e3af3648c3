import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { OpenAIErrorBody } from '../../unified/errors.js';
import type { ResponseContext } from '../provider.js';
import { assertSameAtEverySingleCut, assertSameAtRandomCuts, feed } from '../testing/splits.js';
import {
  BLOCKED_STREAM,
  ERROR_MID_STREAM,
  SAFETY_STREAM,
  TEXT_STREAM,
  TOOL_CALL_STREAM,
  TRUNCATED_STREAM,
  TWO_CANDIDATES_STREAM,
  sse,
} from './fixtures.js';
import { GeminiStreamTranslator } from './stream.js';
import { signatureFromToolCallId } from './tool-ids.js';

const context = (clientWantsUsage: boolean, fields: Record<string, unknown> = {}): ResponseContext => ({
  request: parseChatRequest(
    JSON.stringify({ model: 'my-gemini', stream: true, messages: [{ role: 'user', content: 'hi' }], ...fields }),
  ),
  clientWantsUsage,
  requestId: 'req-7',
  created: 1_700_000_000,
});

/** Feeds the bytes cut at the given offsets; returns everything the client would receive. */
function run(bytes: Buffer, cuts: readonly number[], ctx: ResponseContext) {
  return feed(new GeminiStreamTranslator(ctx), bytes, cuts);
}

type Event = ChatCompletionChunk | OpenAIErrorBody | '[DONE]';

function events(text: string): Event[] {
  assert.ok(text.endsWith('\n\n'), 'every event is terminated');
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      assert.ok(event.startsWith('data: '), event);
      const data = event.slice('data: '.length);
      return data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as ChatCompletionChunk | OpenAIErrorBody);
    });
}

const chunks = (list: Event[]) => list.filter((e): e is ChatCompletionChunk => typeof e === 'object' && 'object' in e);
const deltas = (list: Event[]) =>
  chunks(list).map((c) =>
    c.choices.map((choice) => ({ index: choice.index, delta: choice.delta, finish: choice.finish_reason })),
  );

const FIXTURES: Record<string, { bytes: Buffer; ctx: ResponseContext }> = {
  text: { bytes: Buffer.from(sse(TEXT_STREAM)), ctx: context(true) },
  'text without usage': { bytes: Buffer.from(sse(TEXT_STREAM)), ctx: context(false) },
  'text with LF framing': { bytes: Buffer.from(sse(TEXT_STREAM).replaceAll('\r\n', '\n')), ctx: context(true) },
  tools: { bytes: Buffer.from(sse(TOOL_CALL_STREAM)), ctx: context(true) },
  'two candidates': { bytes: Buffer.from(sse(TWO_CANDIDATES_STREAM)), ctx: context(true, { n: 2 }) },
  blocked: { bytes: Buffer.from(sse(BLOCKED_STREAM)), ctx: context(true) },
  safety: { bytes: Buffer.from(sse(SAFETY_STREAM)), ctx: context(false) },
  'error mid-stream': { bytes: Buffer.from(sse(ERROR_MID_STREAM)), ctx: context(true) },
  truncated: { bytes: Buffer.from(sse(TRUNCATED_STREAM)), ctx: context(true) },
  'no final blank line': { bytes: Buffer.from(sse(TEXT_STREAM).replace(/\r\n\r\n$/, '')), ctx: context(true) },
};

test('text deltas, a finish chunk, the usage chunk and [DONE]', () => {
  const list = events(run(FIXTURES.text!.bytes, [], FIXTURES.text!.ctx).text);
  assert.deepEqual(deltas(list), [
    [{ index: 0, delta: { role: 'assistant', content: 'The capital' }, finish: null }],
    [{ index: 0, delta: { content: ' of France is “Paris”.' }, finish: null }],
    [{ index: 0, delta: {}, finish: 'stop' }],
    [],
  ]);
  const all = chunks(list);
  for (const chunk of all) {
    assert.equal(chunk.id, 'chatcmpl-resp-stream-1');
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.created, 1_700_000_000);
    assert.equal(chunk.model, 'gemini-2.5-flash', 'modelVersion: the model that answered');
  }
  assert.deepEqual(
    all.slice(0, -1).map((c) => c.usage),
    [null, null, null],
    'usage:null on every chunk when include_usage is on',
  );
  assert.deepEqual(all.at(-1)?.usage, {
    prompt_tokens: 9,
    completion_tokens: 12,
    total_tokens: 21,
    prompt_tokens_details: { cached_tokens: 2 },
    completion_tokens_details: { reasoning_tokens: 4 },
  });
  assert.equal(list.at(-1), '[DONE]');
});

test('without include_usage there is no usage chunk, yet the translator still records usage', () => {
  const { text, usage } = run(FIXTURES['text without usage']!.bytes, [], FIXTURES['text without usage']!.ctx);
  const list = events(text);
  assert.ok(chunks(list).every((c) => c.choices.length === 1 && !('usage' in c)));
  assert.equal(list.at(-1), '[DONE]');
  assert.deepEqual(usage, {
    promptTokens: 9,
    completionTokens: 12,
    totalTokens: 21,
    cachedPromptTokens: 2,
    reasoningTokens: 4,
  });
});

test('each function call is one tool_calls delta with full arguments; the finish is tool_calls', () => {
  const list = events(run(FIXTURES.tools!.bytes, [], FIXTURES.tools!.ctx).text);
  const all = deltas(list);
  assert.equal(all.length, 4);
  const [first, second, finish] = all;
  const firstCall = first?.[0]?.delta.tool_calls?.[0];
  assert.deepEqual(first?.[0]?.delta.role, 'assistant');
  assert.equal(first?.[0]?.delta.content, null);
  assert.equal(firstCall?.index, 0);
  assert.equal(firstCall?.type, 'function');
  assert.deepEqual(firstCall?.function, { name: 'get_weather', arguments: '{"city":"Paris"}' });
  assert.equal(firstCall?.id?.split('__sig_')[0], 'call_0_0_respstreamtools');
  assert.equal(signatureFromToolCallId(firstCall?.id ?? ''), 'c2lnLWE/Kw==');
  assert.deepEqual(second, [
    {
      index: 0,
      delta: {
        tool_calls: [
          {
            index: 1,
            id: 'call_0_1_respstreamtools',
            type: 'function',
            function: { name: 'get_time', arguments: '{}' },
          },
        ],
      },
      finish: null,
    },
  ]);
  assert.deepEqual(finish, [{ index: 0, delta: {}, finish: 'tool_calls' }]);
  assert.equal(chunks(list).at(-1)?.usage?.completion_tokens, 36);
});

test('n > 1: candidates stream as separate choice indexes, each with its own finish', () => {
  const list = events(run(FIXTURES['two candidates']!.bytes, [], FIXTURES['two candidates']!.ctx).text);
  const byIndex = (i: number) =>
    deltas(list)
      .flat()
      .filter((d) => d.index === i);
  assert.deepEqual(
    byIndex(0).map((d) => [d.delta.content, d.finish]),
    [
      ['Hea', null],
      ['ds.', null],
      [undefined, 'stop'],
    ],
  );
  assert.deepEqual(
    byIndex(1).map((d) => [d.delta.content, d.finish]),
    [
      ['Ta', null],
      ['ils.', null],
      [undefined, 'stop'],
    ],
  );
  assert.equal(byIndex(1)[0]?.delta.role, 'assistant');
});

test('a blocked prompt streams a content_filter finish for the choice, then usage and [DONE]', () => {
  const list = events(run(FIXTURES.blocked!.bytes, [], FIXTURES.blocked!.ctx).text);
  assert.deepEqual(deltas(list), [
    [{ index: 0, delta: { role: 'assistant', content: null }, finish: null }],
    [{ index: 0, delta: {}, finish: 'content_filter' }],
    [],
  ]);
  assert.equal(list.at(-1), '[DONE]');
});

test('a safety stop mid-answer ends as content_filter', () => {
  const list = events(run(FIXTURES.safety!.bytes, [], FIXTURES.safety!.ctx).text);
  assert.deepEqual(deltas(list).at(-1), [{ index: 0, delta: {}, finish: 'content_filter' }]);
});

test('an error event mid-stream becomes a final OpenAI error event followed by [DONE]', () => {
  const list = events(run(FIXTURES['error mid-stream']!.bytes, [], FIXTURES['error mid-stream']!.ctx).text);
  assert.equal(chunks(list).length, 1);
  assert.deepEqual(list.slice(-2), [
    {
      error: {
        message: 'The model is overloaded. Please try again later.',
        type: 'server_error',
        param: null,
        code: 'unavailable',
      },
    },
    '[DONE]',
  ]);
});

test('a stream that stops before any finishReason ends with an error, not a silent stop', () => {
  const list = events(run(FIXTURES.truncated!.bytes, [], FIXTURES.truncated!.ctx).text);
  const error = list.at(-2) as OpenAIErrorBody;
  assert.equal(error.error.code, 'upstream_error');
  assert.match(error.error.message, /ended before the response was complete/);
  assert.equal(list.at(-1), '[DONE]');
  assert.equal(
    run(Buffer.alloc(0), [], context(false)).text.includes('"error"'),
    true,
    'an empty 200 stream is an error too',
  );
});

test('a last event without its blank line still counts', () => {
  const full = run(FIXTURES.text!.bytes, [], FIXTURES.text!.ctx).text;
  assert.equal(run(FIXTURES['no final blank line']!.bytes, [], FIXTURES['no final blank line']!.ctx).text, full);
});

test('every fixture gives identical output however its bytes are split: every single cut', () => {
  for (const [name, { bytes, ctx }] of Object.entries(FIXTURES)) {
    assertSameAtEverySingleCut((cuts) => run(bytes, cuts, ctx), bytes.length, { label: `${name}: ` });
  }
});

test('every fixture gives identical output however its bytes are split: random multi-cuts and byte by byte', () => {
  for (const [name, { bytes, ctx }] of Object.entries(FIXTURES)) {
    assertSameAtRandomCuts((cuts) => run(bytes, cuts, ctx), bytes.length, { label: `${name}: ` });
  }
});

test('multi-byte characters split across chunks arrive intact', () => {
  const bytes = FIXTURES.text!.bytes;
  const quote = bytes.indexOf(Buffer.from('“'));
  const text = run(bytes, [quote + 1, quote + 2], FIXTURES.text!.ctx).text;
  assert.ok(text.includes('“Paris”'));
});
