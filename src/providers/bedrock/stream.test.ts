// ConverseStream → OpenAI chunks. Streams are encoded with @smithy/eventstream-codec from the documented event
// shapes; every fixture is also fed split at every single byte boundary and at random multi-splits, and must
// give identical output.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { assertSplitInvariant, feed } from '../testing/splits.js';
import {
  encodeEvents,
  encodeStream,
  JSON_EVENTS,
  TEXT_EVENTS,
  THROTTLED_EVENTS,
  TOOL_EVENTS,
  type StreamEvent,
} from './fixtures.js';
import { BedrockStreamTranslator } from './stream.js';

function context(extra: Record<string, unknown> = {}, clientWantsUsage = false): ResponseContext {
  const request = parseChatRequest(
    JSON.stringify({ model: 'claude-alias', messages: [{ role: 'user', content: 'hi' }], stream: true, ...extra }),
  );
  return { request, clientWantsUsage, requestId: 'req-7', created: 1_700_000_000 };
}

function run(bytes: Buffer, ctx: ResponseContext, cuts: readonly number[] = []) {
  return feed(new BedrockStreamTranslator(ctx), bytes, cuts);
}

type Chunk = {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { content?: string } & Record<string, unknown>;
    finish_reason: string | null;
  }>;
  usage?: Record<string, unknown> | null;
  error?: { message: string; type: string; param: null; code: string | null };
};

/** The SSE events of an output: parsed JSON objects, and the literal [DONE]. */
function events(text: string): Array<Chunk | '[DONE]'> {
  assert.ok(text.endsWith('\n\n'), 'output ends on an event boundary');
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      assert.ok(event.startsWith('data: '), `an SSE data event: ${event}`);
      const data = event.slice(6);
      return data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as Chunk);
    });
}

/** The chat.completion.chunk events (error events have no choices). */
const chunksOf = (text: string) => events(text).filter((e): e is Chunk => e !== '[DONE]' && e.error === undefined);
const contentOf = (text: string) =>
  chunksOf(text)
    .map((c) => c.choices[0]?.delta.content ?? '')
    .join('');

const reordered: StreamEvent[] = [...TEXT_EVENTS.slice(0, 4), TEXT_EVENTS[5]!, TEXT_EVENTS[4]!];
const truncated = encodeStream(TEXT_EVENTS).subarray(0, -3);
const corrupt = (() => {
  const bytes = encodeStream(TEXT_EVENTS);
  const at = encodeEvents(TEXT_EVENTS.slice(0, 2)).reduce((n, b) => n + b.length, 0) + 20; // inside the 3rd message
  bytes[at] = bytes[at]! ^ 0x55;
  return bytes;
})();

const SCENARIOS: Array<{ name: string; bytes: Buffer; ctx: ResponseContext }> = [
  {
    name: 'text, client wants usage',
    bytes: encodeStream(TEXT_EVENTS),
    ctx: context({ stream_options: { include_usage: true } }, true),
  },
  { name: 'text, no usage chunk', bytes: encodeStream(TEXT_EVENTS), ctx: context() },
  {
    name: 'parallel tool calls',
    bytes: encodeStream(TOOL_EVENTS),
    ctx: context({ tools: [{ type: 'function', function: { name: 'get_weather' } }] }, true),
  },
  { name: 'JSON mode', bytes: encodeStream(JSON_EVENTS), ctx: context({ response_format: { type: 'json_object' } }) },
  { name: 'in-stream throttling exception', bytes: encodeStream(THROTTLED_EVENTS), ctx: context() },
  { name: 'metadata before messageStop', bytes: encodeStream(reordered), ctx: context({}, true) },
  { name: 'corrupt checksum', bytes: corrupt, ctx: context() },
  { name: 'truncated stream', bytes: truncated, ctx: context() },
];

describe('split invariance', () => {
  for (const scenario of SCENARIOS) {
    test(`${scenario.name}: identical output at every single split and at random multi-splits`, () => {
      assertSplitInvariant((cuts) => run(scenario.bytes, scenario.ctx, cuts), scenario.bytes.length);
    });
  }
});

describe('text streams', () => {
  test('role first, then content deltas, then the finish chunk, the usage chunk and [DONE]', () => {
    const { text, usage } = run(encodeStream(TEXT_EVENTS), context({ stream_options: { include_usage: true } }, true));
    const all = events(text);
    assert.equal(all.at(-1), '[DONE]');
    const chunks = chunksOf(text);
    assert.deepEqual(chunks[0]?.choices[0]?.delta, { role: 'assistant', content: '' });
    assert.equal(contentOf(text), 'Hello, wörld ✓');
    const finish = chunks.at(-2);
    assert.deepEqual(finish?.choices, [{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }]);
    const usageChunk = chunks.at(-1);
    assert.deepEqual(usageChunk?.choices, []);
    // OpenAI meaning: prompt_tokens = input 12 + cache read 100 + cache write 10.
    assert.deepEqual(usageChunk?.usage, {
      prompt_tokens: 122,
      completion_tokens: 4,
      total_tokens: 126,
      prompt_tokens_details: { cached_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    assert.deepEqual(usage, {
      promptTokens: 122,
      completionTokens: 4,
      totalTokens: 126,
      cachedPromptTokens: 100,
      reasoningTokens: 0,
    });
    for (const chunk of chunks.slice(0, -1))
      assert.equal(chunk.usage, null, 'every other chunk says usage: null, as OpenAI does');
  });

  test('every chunk carries the request-derived id, ctx.created and the client’s model alias', () => {
    for (const chunk of chunksOf(run(encodeStream(TEXT_EVENTS), context()).text)) {
      assert.equal(chunk.id, 'chatcmpl-req-7');
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.created, 1_700_000_000);
      assert.equal(chunk.model, 'claude-alias');
    }
  });

  test('without include_usage there is no usage chunk and no usage field, but usage is still recorded', () => {
    const { text, usage } = run(encodeStream(TEXT_EVENTS), context());
    const chunks = chunksOf(text);
    assert.ok(chunks.every((c) => c.choices.length === 1 && !('usage' in c)));
    assert.equal(usage?.totalTokens, 126);
  });

  test('metadata arriving before messageStop gives the same output as the documented order', () => {
    const ctx = context({}, true);
    assert.equal(run(encodeStream(reordered), ctx).text, run(encodeStream(TEXT_EVENTS), ctx).text);
  });
});

describe('tool calls', () => {
  test('each toolUse block becomes a tool call with its own index, id and name, then argument deltas', () => {
    const { text } = run(
      encodeStream(TOOL_EVENTS),
      context({ tools: [{ type: 'function', function: { name: 'get_weather' } }] }),
    );
    const chunks = chunksOf(text);
    const deltas = chunks.flatMap(
      (c) => (c.choices[0]?.delta.tool_calls as Array<Record<string, unknown>> | undefined) ?? [],
    );
    assert.deepEqual(deltas, [
      { index: 0, id: 'tooluse_Paris01', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 0, function: { arguments: '{"city":' } },
      { index: 0, function: { arguments: '"Paris"}' } },
      { index: 1, id: 'tooluse_Tokyo02', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 1, function: { arguments: '{"city":"Tokyo"}' } },
    ]);
    assert.equal(contentOf(text), 'Checking.');
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'tool_calls');
  });
});

describe('JSON mode', () => {
  test('the forced tool’s input streams as content and the finish reason is stop', () => {
    const { text } = run(
      encodeStream(JSON_EVENTS),
      context({ response_format: { type: 'json_schema', json_schema: { name: 'person' } } }),
    );
    assert.deepEqual(JSON.parse(contentOf(text)), { name: 'Ada', languages: ['en', 'fr'] });
    const chunks = chunksOf(text);
    assert.ok(chunks.every((c) => c.choices[0]?.delta.tool_calls === undefined));
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
  });

  test('text around the forced tool call is dropped so the content stays valid JSON', () => {
    const withText: StreamEvent[] = [
      JSON_EVENTS[0]!,
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Here you go:' } } },
      ...JSON_EVENTS.slice(1).map(shiftIndex),
    ];
    const { text } = run(encodeStream(withText), context({ response_format: { type: 'json_object' } }));
    assert.deepEqual(JSON.parse(contentOf(text)), { name: 'Ada', languages: ['en', 'fr'] });
  });
});

function shiftIndex(event: StreamEvent): StreamEvent {
  if ('contentBlockStart' in event) return { contentBlockStart: { ...event.contentBlockStart, contentBlockIndex: 1 } };
  if ('contentBlockDelta' in event) return { contentBlockDelta: { ...event.contentBlockDelta, contentBlockIndex: 1 } };
  if ('contentBlockStop' in event) return { contentBlockStop: { contentBlockIndex: 1 } };
  return event;
}

describe('finish reasons', () => {
  const stopping = (stopReason: string, metadata = true): StreamEvent[] => [
    TEXT_EVENTS[0]!,
    TEXT_EVENTS[1]!,
    { messageStop: { stopReason: stopReason as 'end_turn' } },
    ...(metadata ? [TEXT_EVENTS[5]!] : []),
  ];
  const TABLE: Array<[string, string]> = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['guardrail_intervened', 'content_filter'],
    ['content_filtered', 'content_filter'],
    ['a_reason_from_the_future', 'stop'],
  ];
  for (const [stopReason, finish] of TABLE) {
    test(`${stopReason} → ${finish}`, () => {
      const chunks = chunksOf(run(encodeStream(stopping(stopReason)), context()).text);
      assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, finish);
    });
  }

  test('malformed_tool_use and malformed_model_output end in an error event (usage still recorded)', () => {
    for (const reason of ['malformed_tool_use', 'malformed_model_output']) {
      const { text, usage } = run(encodeStream(stopping(reason)), context({}, true));
      const all = events(text);
      assert.equal(all.at(-1), '[DONE]');
      const error = all.at(-2) as Chunk;
      assert.equal(error.error?.code, reason);
      assert.equal(error.error?.type, 'server_error');
      assert.ok(
        chunksOf(text).every((c) => c.choices.every((choice) => choice.finish_reason === null)),
        'no finish chunk',
      );
      assert.ok(!text.includes('"choices":[]'), 'no usage chunk after an error');
      assert.equal(usage?.totalTokens, 126);
    }
  });
});

describe('errors in the stream', () => {
  test('an exception becomes a final OpenAI error event, then [DONE]', () => {
    const { text } = run(encodeStream(THROTTLED_EVENTS), context());
    const all = events(text);
    assert.equal(contentOf(text), 'Hel');
    assert.equal(all.at(-1), '[DONE]');
    assert.deepEqual((all.at(-2) as Chunk).error, {
      message: 'Too many tokens, please wait before trying again.',
      type: 'rate_limit_error',
      param: null,
      code: 'throttlingException',
    });
  });

  test('each documented exception gets an error type', () => {
    const TYPES: Array<[string, string]> = [
      ['throttlingException', 'rate_limit_error'],
      ['validationException', 'invalid_request_error'],
      ['modelStreamErrorException', 'server_error'],
      ['internalServerException', 'server_error'],
      ['serviceUnavailableException', 'server_error'],
      ['somethingNewException', 'server_error'],
    ];
    for (const [exception, type] of TYPES) {
      const { text } = run(encodeStream([TEXT_EVENTS[0]!, { exception, message: 'boom' }]), context());
      const error = events(text).at(-2) as Chunk;
      assert.equal(error.error?.type, type, exception);
      assert.equal(error.error?.code, exception);
    }
  });

  test('a checksum failure is reported after the content that arrived intact', () => {
    const { text } = run(corrupt, context());
    const all = events(text);
    assert.equal(contentOf(text), 'Hello');
    assert.equal((all.at(-2) as Chunk).error?.code, 'corrupt_event_stream');
    assert.equal(all.at(-1), '[DONE]');
  });

  test('a stream cut mid-message, or before messageStop, ends in an error event', () => {
    assert.equal((events(run(truncated, context()).text).at(-2) as Chunk).error?.code, 'truncated_event_stream');
    const noStop = encodeStream(TEXT_EVENTS.slice(0, 3));
    const all = events(run(noStop, context()).text);
    assert.equal((all.at(-2) as Chunk).error?.code, 'truncated_event_stream');
    assert.equal(all.at(-1), '[DONE]');
  });

  test('the translator always returns bytes, never undefined (binary must not pass through)', () => {
    const translator = new BedrockStreamTranslator(context());
    assert.ok(Buffer.isBuffer(translator.push(encodeStream(TEXT_EVENTS).subarray(0, 5))));
  });
});
