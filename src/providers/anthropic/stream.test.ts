// Specification of the Anthropic SSE → OpenAI chunk translation (docs/providers/anthropic.md, "Streaming").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { assertSameAtEverySingleCut, assertSameAtRandomCuts, feed } from '../testing/splits.js';
import { anthropicSse, ERROR_STREAM, JSON_TOOL_STREAM, TEXT_STREAM, TOOL_STREAM, type WireEvent } from './fixtures.js';
import { anthropicProvider } from './index.js';

const CREATED = 1_700_000_000;

function context(extra: Record<string, unknown> = {}, clientWantsUsage = false): ResponseContext {
  const request = parseChatRequest(
    JSON.stringify({ model: 'claude', stream: true, messages: [{ role: 'user', content: 'Hi' }], ...extra }),
  );
  return { request, clientWantsUsage, requestId: 'req-e2e-1', created: CREATED };
}

/** Feeds `bytes` cut at `cuts` and returns everything the client would receive, plus the recorded usage. */
function translate(bytes: Buffer, ctx: ResponseContext, cuts: readonly number[] = []) {
  const result = feed(anthropicProvider.createStreamTranslator(ctx), bytes, cuts);
  assert.ok(result.passedThrough === 0, 'Anthropic bytes never pass through untranslated');
  return result;
}

/** The client's view: each `data:` payload, parsed ('[DONE]' kept as is). */
function events(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      assert.ok(block.startsWith('data: '), `every event is a data line: ${block}`);
      const data = block.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

function chunk(id: string, delta: Record<string, unknown>, finish: string | null = null) {
  return {
    id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'claude-sonnet-4-5-20250929',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

const FIXTURES: Array<[string, WireEvent[], Record<string, unknown>]> = [
  ['text', TEXT_STREAM, {}],
  ['tools', TOOL_STREAM, {}],
  ['json mode', JSON_TOOL_STREAM, { response_format: { type: 'json_object' } }],
  ['in-stream error', ERROR_STREAM, {}],
];

describe('text', () => {
  const TEXT_ID = 'chatcmpl-msg_01TextStream';

  test('opens with a role chunk, streams content deltas, ends with finish_reason and [DONE]; ping is ignored', () => {
    assert.deepEqual(events(translate(Buffer.from(anthropicSse(TEXT_STREAM)), context()).text), [
      chunk(TEXT_ID, { role: 'assistant', content: '', refusal: null }),
      chunk(TEXT_ID, { content: 'Hello' }),
      chunk(TEXT_ID, { content: ', wörld ' }),
      chunk(TEXT_ID, { content: '👋🏽!' }),
      chunk(TEXT_ID, {}, 'stop'),
      '[DONE]',
    ]);
  });

  test('usage is always recorded in OpenAI meaning: prompt = input + cache read + cache creation', () => {
    const { usage } = translate(Buffer.from(anthropicSse(TEXT_STREAM)), context());
    assert.deepEqual(usage, {
      promptTokens: 1025,
      completionTokens: 12,
      totalTokens: 1037,
      cachedPromptTokens: 1000,
      reasoningTokens: 0,
    });
  });

  test('with include_usage every chunk carries usage: null and a choices: [] usage chunk precedes [DONE]', () => {
    const out = events(translate(Buffer.from(anthropicSse(TEXT_STREAM)), context({}, true), []).text);
    assert.deepEqual(out.at(-2), {
      id: TEXT_ID,
      object: 'chat.completion.chunk',
      created: CREATED,
      model: 'claude-sonnet-4-5-20250929',
      choices: [],
      usage: {
        prompt_tokens: 1025,
        completion_tokens: 12,
        total_tokens: 1037,
        prompt_tokens_details: { cached_tokens: 1000 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    for (const event of out.slice(0, -2)) assert.equal((event as { usage: unknown }).usage, null);
  });
});

describe('tool calls', () => {
  const TOOL_ID = 'chatcmpl-msg_01ToolStream';

  test('tool_use blocks become tool_calls deltas indexed by tool ordinal; thinking is not shown; empty input becomes {}', () => {
    const { text, usage } = translate(Buffer.from(anthropicSse(TOOL_STREAM)), context());
    assert.deepEqual(events(text), [
      chunk(TOOL_ID, { role: 'assistant', content: '', refusal: null }),
      chunk(TOOL_ID, { content: 'Checking.' }),
      chunk(TOOL_ID, {
        tool_calls: [
          { index: 0, id: 'toolu_01Weather', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      }),
      chunk(TOOL_ID, { tool_calls: [{ index: 0, function: { arguments: '{"city": "Pa' } }] }),
      chunk(TOOL_ID, { tool_calls: [{ index: 0, function: { arguments: 'ris", "unit": "celsius"}' } }] }),
      chunk(TOOL_ID, {
        tool_calls: [{ index: 1, id: 'toolu_02Time', type: 'function', function: { name: 'get_time', arguments: '' } }],
      }),
      chunk(TOOL_ID, { tool_calls: [{ index: 1, function: { arguments: '{}' } }] }),
      chunk(TOOL_ID, {}, 'tool_calls'),
      '[DONE]',
    ]);
    // message_delta usage is cumulative; its null fields keep the message_start values.
    assert.deepEqual(usage, {
      promptTokens: 400,
      completionTokens: 95,
      totalTokens: 495,
      cachedPromptTokens: 0,
      reasoningTokens: 30,
    });
  });

  test('in JSON mode (json_object) the forced tool input streams as content and finishes with stop', () => {
    const id = 'chatcmpl-msg_01JsonStream';
    assert.deepEqual(
      events(
        translate(Buffer.from(anthropicSse(JSON_TOOL_STREAM)), context({ response_format: { type: 'json_object' } }))
          .text,
      ),
      [
        chunk(id, { role: 'assistant', content: '', refusal: null }),
        chunk(id, { content: '{"answer": ' }),
        chunk(id, { content: '42}' }),
        chunk(id, {}, 'stop'),
        '[DONE]',
      ],
    );
  });
});

describe('finish reasons', () => {
  const withStop = (stopReason: string): WireEvent[] =>
    TEXT_STREAM.map((event) =>
      event.type === 'message_delta'
        ? { ...event, delta: { ...event.delta, stop_reason: stopReason as never } }
        : event,
    );
  const finishOf = (stopReason: string) => {
    const out = events(translate(Buffer.from(anthropicSse(withStop(stopReason))), context()).text);
    return (out.at(-2) as { choices: Array<{ finish_reason: string }> }).choices[0]?.finish_reason;
  };

  // The mapping itself is a table in ../finish-reasons.test.ts; here: the stream's finish chunk carries it.
  test('the finish chunk carries the mapped stop_reason', () => {
    assert.deepEqual(['end_turn', 'max_tokens', 'refusal', 'some_future_reason'].map(finishOf), [
      'stop',
      'length',
      'content_filter',
      'stop',
    ]);
  });
});

describe('errors', () => {
  test('an in-stream error event becomes a final OpenAI error event and [DONE]; no finish chunk', () => {
    const id = 'chatcmpl-msg_01ErrorStream';
    assert.deepEqual(events(translate(Buffer.from(anthropicSse(ERROR_STREAM)), context()).text), [
      chunk(id, { role: 'assistant', content: '', refusal: null }),
      chunk(id, { content: 'Par' }),
      {
        error: {
          message: 'Overloaded (Anthropic request id: req_011Overloaded)',
          type: 'server_error',
          param: null,
          code: 'overloaded_error',
        },
      },
      '[DONE]',
    ]);
  });

  test('a stream that stops before message_stop ends with an error event, not a silent cut', () => {
    const bytes = anthropicSse(TEXT_STREAM.slice(0, -2));
    const out = events(translate(Buffer.from(bytes), context()).text);
    assert.deepEqual(out.slice(-2), [
      {
        error: {
          message: 'The Anthropic stream ended before the response was complete.',
          type: 'server_error',
          param: null,
          code: 'upstream_stream_truncated',
        },
      },
      '[DONE]',
    ]);
  });

  test('a last event without its closing blank line still counts', () => {
    const bytes = anthropicSse(TEXT_STREAM).replace(/\n\n$/, '\n');
    assert.equal(events(translate(Buffer.from(bytes), context()).text).at(-1), '[DONE]');
    assert.equal(
      (events(translate(Buffer.from(bytes), context()).text).at(-2) as { choices: Array<{ finish_reason: string }> })
        .choices[0]?.finish_reason,
      'stop',
    );
  });

  test('an error event whose payload cannot be read is still an error for the client', () => {
    const bytes = anthropicSse(TEXT_STREAM.slice(0, 3)) + 'event: error\ndata: upstream exploded\n\n';
    assert.deepEqual(events(translate(Buffer.from(bytes), context()).text).slice(-2), [
      {
        error: {
          message: 'Anthropic reported an error in the stream.',
          type: 'server_error',
          param: null,
          code: 'upstream_error',
        },
      },
      '[DONE]',
    ]);
  });

  test('unknown event types are ignored', () => {
    const bytes = anthropicSse(TEXT_STREAM).replace('event: ping', 'event: some_new_event');
    assert.equal(
      translate(Buffer.from(bytes), context()).text,
      translate(Buffer.from(anthropicSse(TEXT_STREAM)), context()).text,
    );
  });
});

describe('chunk boundaries', () => {
  for (const [name, fixture, extra] of FIXTURES) {
    const bytes = Buffer.from(anthropicSse(fixture));
    for (const clientWantsUsage of [false, true]) {
      const ctx = context(extra, clientWantsUsage);
      const run = (cuts: readonly number[]) => translate(bytes, ctx, cuts);

      test(`${name} (include_usage ${clientWantsUsage}): identical output split at every single byte boundary`, () => {
        assertSameAtEverySingleCut(run, bytes.length);
      });

      test(`${name} (include_usage ${clientWantsUsage}): identical output at 300 random multi-splits and byte by byte`, () => {
        assertSameAtRandomCuts(run, bytes.length, { rounds: 300 });
      });
    }
  }
});
