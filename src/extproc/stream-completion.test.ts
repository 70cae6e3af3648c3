import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadEncoders, countText } from '../tokens/counter.js';
import type { StreamTranslator } from '../providers/provider.js';
import type { Usage } from '../unified/usage.js';
import { StreamCompletion, type StreamCompletionOptions } from './stream-completion.js';
import { assertSplitInvariant, feed } from '../providers/testing/splits.js';
import { openAICompatibleProvider } from '../providers/openai-compatible/index.js';
import { anthropicProvider } from '../providers/anthropic/index.js';
import { anthropicSse, TEXT_STREAM } from '../providers/anthropic/fixtures.js';

/** A translator that passes bytes through and reports usage only when the stream carried a usage chunk. */
function passthrough(): StreamTranslator {
  let usage: Usage | undefined;
  return {
    push(chunk) {
      if (chunk.includes('"usage":{'))
        usage = { promptTokens: 9, completionTokens: 4, totalTokens: 13, cachedPromptTokens: 0, reasoningTokens: 0 };
      return undefined;
    },
    end: () => Buffer.alloc(0),
    get usage() {
      return usage;
    },
  };
}

const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices, ...extra })}\n\n`;
const OPTIONS: StreamCompletionOptions = {
  choices: 1,
  clientWantsUsage: false,
  promptTokens: () => 11,
  countCompletion: (t) => countText('gpt-4o-mini', t),
};

function run(
  stream: string,
  options: Partial<StreamCompletionOptions> = {},
  cuts: readonly number[] = [],
): { out: string; completion: StreamCompletion } {
  const completion = new StreamCompletion(passthrough(), { ...OPTIONS, ...options });
  const bytes = Buffer.from(stream);
  let out = '';
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = bytes.subarray(at, cut);
    at = cut;
    out += (completion.push(piece) ?? piece).toString();
  }
  out += completion.end().toString();
  return { out, completion };
}

function events(out: string): Record<string, unknown>[] {
  return out
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
}

before(() => loadEncoders());

test('a stream whose chunks all carry finish_reason null gets `stop` before [DONE]', () => {
  const stream =
    chunk([{ index: 0, delta: { content: 'Hello' }, finish_reason: null }]) +
    chunk([{ index: 0, delta: {}, finish_reason: null }]) +
    'data: [DONE]\n\n';
  const { out } = run(stream);
  assert.ok(out.endsWith('data: [DONE]\n\n'));
  const last = events(out).at(-1) as { id: string; model: string; choices: { index: number; finish_reason: string }[] };
  assert.deepEqual(
    [last.id, last.model, last.choices[0]?.index, last.choices[0]?.finish_reason],
    ['c1', 'gpt-4o-mini', 0, 'stop'],
  );
});

test('streamed tool calls finish with `tool_calls`; n > 1 repairs only the choices without one', () => {
  const tool = { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
  const stream =
    chunk([{ index: 0, delta: { tool_calls: [tool] }, finish_reason: null }]) +
    chunk([{ index: 1, delta: { content: 'x' }, finish_reason: null }]) +
    chunk([{ index: 2, delta: { content: 'y' }, finish_reason: 'length' }]) +
    'data: [DONE]\n\n';
  const finishes = events(run(stream, { choices: 3 }).out).flatMap((e) =>
    (e.choices as { index: number; finish_reason: string | null }[])
      .filter((c) => c.finish_reason)
      .map((c) => [c.index, c.finish_reason]),
  );
  assert.deepEqual(finishes, [
    [2, 'length'],
    [0, 'tool_calls'],
    [1, 'stop'],
  ]);
});

test('a complete stream passes through untouched', () => {
  const stream =
    chunk([{ index: 0, delta: { content: 'Hi' }, finish_reason: null }]) +
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) +
    'data: [DONE]\n\n';
  const completion = new StreamCompletion(passthrough(), OPTIONS);
  assert.equal(completion.push(Buffer.from(stream)), undefined);
});

test('include_usage without provider usage: an estimated usage chunk counted with the tokenizer', () => {
  const text = 'Hello from the mock upstream.';
  const stream =
    chunk([{ index: 0, delta: { content: text }, finish_reason: null }]) +
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) +
    'data: [DONE]\n\n';
  const { out, completion } = run(stream, { clientWantsUsage: true });
  const usage = events(out).at(-1)?.usage as Record<string, unknown>;
  const tokens = countText('gpt-4o-mini', text);
  assert.deepEqual(usage, {
    prompt_tokens: 11,
    completion_tokens: tokens,
    total_tokens: 11 + tokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
    estimated: true,
  });
  assert.equal(completion.estimated, true);
  assert.equal(completion.usage?.completionTokens, tokens);
});

test('provider usage wins: no estimated chunk, not marked estimated', () => {
  const stream =
    chunk([{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }]) +
    chunk([], { usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } }) +
    'data: [DONE]\n\n';
  const { out, completion } = run(stream, { clientWantsUsage: true });
  assert.equal(events(out).filter((e) => (e.usage as { estimated?: boolean } | undefined)?.estimated).length, 0);
  assert.equal(completion.estimated, false);
});

test('an abandoned stream is charged the prompt and the text streamed so far', () => {
  const completion = new StreamCompletion(passthrough(), OPTIONS);
  for (let i = 0; i < 100; i++)
    completion.push(Buffer.from(chunk([{ index: 0, delta: { content: ' hello' }, finish_reason: null }])));
  const usage = completion.usageSoFar();
  assert.equal(usage.promptTokens, 11);
  assert.equal(usage.completionTokens, countText('gpt-4o-mini', ' hello'.repeat(100)));
  // …also past the compaction threshold (long streams are folded into text as they go).
  const long = new StreamCompletion(passthrough(), OPTIONS);
  const piece = Buffer.from(chunk([{ index: 0, delta: { content: ' hello' }, finish_reason: null }]));
  const n = Math.ceil((600 * 1024) / piece.length);
  for (let i = 0; i < n; i++) long.push(piece);
  assert.equal(long.usageSoFar().completionTokens, countText('gpt-4o-mini', ' hello'.repeat(n)));
});

test('split invariance: the OpenAI-compatible translator, wrapped, repairs the same way at every cut', () => {
  const tool = { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } };
  const stream = Buffer.from(
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]) +
      chunk([{ index: 0, delta: { content: 'Grüße 👋🏽' }, finish_reason: null }]) +
      chunk([{ index: 0, delta: { tool_calls: [tool] }, finish_reason: null }]) +
      'data: [DONE]\n\n',
  );
  const context = {
    request: {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    },
    clientWantsUsage: true,
    requestId: 'r',
    created: 1,
  };
  const run = (cuts: readonly number[]) => {
    const completion = new StreamCompletion(openAICompatibleProvider.createStreamTranslator(context), {
      ...OPTIONS,
      clientWantsUsage: true,
    });
    const translated = feed(completion, stream, cuts);
    return { text: translated.text, usage: completion.usage };
  };
  const reference = assertSplitInvariant(run, stream.length, { rounds: 100 });
  const finishes = events(reference.text).flatMap((e) =>
    (e.choices as { finish_reason: string | null }[]).map((c) => c.finish_reason).filter(Boolean),
  );
  assert.deepEqual(finishes, ['tool_calls']);
  assert.equal((events(reference.text).at(-1)?.usage as { estimated?: boolean } | undefined)?.estimated, true);
});

test('a provider translator that already finishes its stream (Anthropic) passes through the wrapper unchanged', () => {
  const context = {
    request: { model: 'claude', messages: [{ role: 'user' as const, content: 'hi' }], stream: true },
    clientWantsUsage: false,
    requestId: 'r',
    created: 1,
  };
  const bytes = Buffer.from(anthropicSse(TEXT_STREAM));
  const plain = feed(anthropicProvider.createStreamTranslator(context), bytes).text;
  const wrapped = feed(new StreamCompletion(anthropicProvider.createStreamTranslator(context), OPTIONS), bytes).text;
  assert.equal(wrapped, plain);
});

test('an error event inside a stream names the request id, like every other error the client sees', () => {
  const error = `data: ${JSON.stringify({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'upstream_error' } })}\n\n`;
  const { out } = run(
    chunk([{ index: 0, delta: { content: 'Hel' }, finish_reason: null }]) + error + 'data: [DONE]\n\n',
    { requestId: 'req-42' },
  );
  const errors = events(out).filter((e) => 'error' in e) as { error: { message: string; code: string } }[];
  assert.deepEqual(
    errors.map((e) => [e.error.message, e.error.code]),
    [['Overloaded (request id: req-42)', 'upstream_error']],
  );
  // Already named: left alone.
  const named = `data: ${JSON.stringify({ error: { message: 'x (request id: req-42)', type: 'server_error', param: null, code: null } })}\n\n`;
  assert.equal(
    events(run(named + 'data: [DONE]\n\n', { requestId: 'req-42' }).out).filter((e) => 'error' in e).length,
    1,
  );
  assert.ok(run(named, { requestId: 'req-42' }).out.includes('"x (request id: req-42)"'));
});
