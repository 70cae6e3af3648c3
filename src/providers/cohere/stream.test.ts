import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { assertSplitInvariant, feed } from '../testing/splits.js';
import {
  ERROR_STREAM_EVENTS,
  TEXT_STREAM_EVENTS,
  THINKING_AND_CITATION_EVENTS,
  TOOL_STREAM_EVENTS,
  sse,
} from './fixtures.js';
import { cohereProvider } from './index.js';

const request = parseChatRequest(
  JSON.stringify({ model: 'my-alias', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
);
const context = (clientWantsUsage: boolean): ResponseContext => ({
  request,
  clientWantsUsage,
  requestId: 'req-1',
  created: 1_700_000_000,
});

/** Feeds `bytes` cut at `cuts` and returns everything the client would receive. */
function run(bytes: Buffer, cuts: readonly number[], clientWantsUsage = false) {
  return feed(cohereProvider.createStreamTranslator(context(clientWantsUsage)), bytes, cuts);
}

/** The same output at every single cut, at many random multi-cuts and byte by byte; returns the whole output. */
function outputHoweverSplit(bytes: Buffer, clientWantsUsage: boolean) {
  return assertSplitInvariant((cuts) => run(bytes, cuts, clientWantsUsage), bytes.length);
}

function chunks(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      assert.ok(e.startsWith('data: '), e);
      const data = e.slice(6);
      return data === '[DONE]' ? '[DONE]' : JSON.parse(data);
    });
}

const base = {
  id: '29f14a5a-11de-4cae-9800-25e4747408ea',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'my-alias',
};
const choice = (delta: unknown, finish: string | null = null) => ({
  index: 0,
  delta,
  finish_reason: finish,
  logprobs: null,
});

test('a text stream becomes role, content deltas, a finish chunk and [DONE], however it is split', () => {
  const { text, usage } = outputHoweverSplit(Buffer.from(sse(TEXT_STREAM_EVENTS)), false);
  assert.deepEqual(chunks(text), [
    { ...base, choices: [choice({ role: 'assistant', content: '' })] },
    { ...base, choices: [choice({ content: 'Hello' })] },
    { ...base, choices: [choice({ content: ' wörld' })] },
    { ...base, choices: [choice({ content: ' – ok.' })] },
    { ...base, choices: [choice({}, 'stop')] },
    '[DONE]',
  ]);
  assert.deepEqual(usage, {
    promptTokens: 69,
    completionTokens: 5,
    totalTokens: 74,
    cachedPromptTokens: 64,
    reasoningTokens: 0,
  });
});

test('with include_usage every chunk has usage: null and a choices: [] usage chunk precedes [DONE]', () => {
  const { text } = outputHoweverSplit(Buffer.from(sse(TEXT_STREAM_EVENTS)), true);
  const all = chunks(text);
  assert.equal(all.at(-1), '[DONE]');
  assert.deepEqual(all.at(-2), {
    ...base,
    choices: [],
    usage: {
      prompt_tokens: 69,
      completion_tokens: 5,
      total_tokens: 74,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  });
  for (const chunk of all.slice(0, -2)) assert.equal((chunk as { usage: unknown }).usage, null);
});

test('tool calls stream as OpenAI tool_call deltas with index, id, type and argument fragments', () => {
  const { text } = outputHoweverSplit(Buffer.from(sse(TOOL_STREAM_EVENTS)), false);
  const b = { ...base, id: '7e0d2a40-8a44-4f4e-b7a2-3c2d1b0a9f88' };
  assert.deepEqual(chunks(text), [
    { ...b, choices: [choice({ role: 'assistant', content: '' })] },
    { ...b, choices: [choice({ content: 'I will check' })] },
    { ...b, choices: [choice({ content: ' the weather.' })] },
    {
      ...b,
      choices: [
        choice({
          tool_calls: [
            {
              index: 0,
              id: 'get_weather_p2k9x7m1qz0a',
              type: 'function',
              function: { name: 'get_weather', arguments: '' },
            },
          ],
        }),
      ],
    },
    { ...b, choices: [choice({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] })] },
    { ...b, choices: [choice({ tool_calls: [{ index: 0, function: { arguments: 'ty": "Par' } }] })] },
    { ...b, choices: [choice({ tool_calls: [{ index: 0, function: { arguments: 'is"}' } }] })] },
    {
      ...b,
      choices: [
        choice({
          tool_calls: [
            { index: 1, id: 'get_time_9fjw2k1d8s7e', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        }),
      ],
    },
    // "nu" + "ll" is held back and released as "{}" when the call ends.
    { ...b, choices: [choice({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] })] },
    { ...b, choices: [choice({}, 'tool_calls')] },
    '[DONE]',
  ]);
});

test('a failed generation ends the stream with an error event and [DONE]', () => {
  const { text, usage } = outputHoweverSplit(Buffer.from(sse(ERROR_STREAM_EVENTS)), true);
  const all = chunks(text);
  assert.deepEqual(all.slice(-2), [
    {
      error: {
        message: 'Cohere reported an error while generating (finish_reason ERROR). internal model failure',
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    },
    '[DONE]',
  ]);
  assert.equal(usage, undefined);
});

test('thinking and citations do not reach the client; MAX_TOKENS is length', () => {
  const { text } = outputHoweverSplit(Buffer.from(sse(THINKING_AND_CITATION_EVENTS)), false);
  const contents = chunks(text).flatMap((c) =>
    typeof c === 'object' && c !== null
      ? (c as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }> }).choices
      : [],
  );
  assert.deepEqual(
    contents.map((c) => c.delta.content ?? c.finish_reason),
    ['', 'Answer.', 'length'],
  );
});

test('a stream cut off before message-end ends with an error event, not a silent stop', () => {
  const bytes = Buffer.from(sse(TEXT_STREAM_EVENTS.slice(0, 3)));
  const { text } = outputHoweverSplit(bytes, false);
  const all = chunks(text);
  assert.equal(all.at(-1), '[DONE]');
  assert.match(JSON.stringify(all.at(-2)), /ended before message-end/);
});

test('data-only framing, CRLF line ends, a final event without a blank line and a [DONE] from Cohere all work', () => {
  const dataOnly =
    TEXT_STREAM_EVENTS.map((e) => `data: ${JSON.stringify(e)}`).join('\r\n\r\n') + '\r\n\r\ndata: [DONE]';
  const expected = run(Buffer.from(sse(TEXT_STREAM_EVENTS)), []).text;
  assert.equal(outputHoweverSplit(Buffer.from(dataOnly), false).text, expected);
});
