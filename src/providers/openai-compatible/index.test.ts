import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import type { ResponseContext } from '../provider.js';
import { assertSplitInvariant, feed } from '../testing/splits.js';
import { openAICompatibleProvider } from './index.js';
import { mistralToolCallId } from './request.js';
import { MISTRAL_TOOL_IDS, rewriteToolCallIds } from '../tool-ids.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - name: mistral
    provider: openai-compatible
    baseUrl: https://api.mistral.ai/v1
    apiKeyEnv: MISTRAL_KEY
    compat: { toolCallIds: mistral, seedField: random_seed, dropFields: [stream_options] }
  - name: groq
    provider: openai-compatible
    baseUrl: https://api.groq.com/openai/v1
    compat: { dropFields: [logprobs, top_logprobs, logit_bias, "messages[].name"], maxN: 1 }
  - { name: vllm, provider: openai-compatible, baseUrl: "http://127.0.0.1:8000/v1" }
routes:
  - { model: m, backends: [{ backend: mistral }] }
`),
  { MISTRAL_KEY: 'mk' },
);
const backend = (name: string) => topology.backends.get(name)!;
const request = (extra: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra }));
const sent = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.parse(
    openAICompatibleProvider
      .buildRequest(request(extra), {
        backend: backend(name),
        upstreamModel: 'up',
        now: new Date(),
        credentials: attemptCredentials(backend(name)),
      })
      .body.toString(),
  );

const TOOL_HISTORY = [
  { role: 'user', content: 'Weather?' },
  {
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: 'call_abc123DEF456ghi789', type: 'function', function: { name: 'w', arguments: '{}' } },
      { id: 'Ab3dE6gH9', type: 'function', function: { name: 'w', arguments: '{}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_abc123DEF456ghi789', content: 'sunny' },
  { role: 'tool', tool_call_id: 'Ab3dE6gH9', content: 'rain' },
];

test('mistral ids: every tool-call id becomes 9 characters of [a-zA-Z0-9], calls and results stay paired', () => {
  const body = sent('mistral', { messages: TOOL_HISTORY });
  const [, assistant, result1, result2] = body.messages;
  const [rewritten, kept] = assistant.tool_calls.map((c: { id: string }) => c.id);
  assert.match(rewritten, /^[a-zA-Z0-9]{9}$/);
  assert.equal(
    rewritten,
    mistralToolCallId('call_abc123DEF456ghi789'),
    'deterministic: every attempt and replica agrees',
  );
  assert.equal(result1.tool_call_id, rewritten);
  assert.equal(kept, 'Ab3dE6gH9', 'ids that already fit (Mistral’s own) are kept, so nothing needs mapping back');
  assert.equal(result2.tool_call_id, 'Ab3dE6gH9');
});

test('mistral ids: distinct ids never collapse into one, even if their hashes collide', () => {
  const collide = mistralToolCallId('x');
  // An id that already has the hash of another as its value forces the second id onto another salt.
  const out = rewriteToolCallIds(
    [
      {
        role: 'assistant',
        tool_calls: [
          { id: collide, type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'x', type: 'function', function: { name: 'f', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'x', content: 'r' },
    ] as unknown[],
    MISTRAL_TOOL_IDS,
  ) as Array<{ tool_calls?: Array<{ id: string }>; tool_call_id?: string }>;
  const ids = out[0]!.tool_calls!.map((c) => c.id);
  assert.equal(ids[0], collide);
  assert.notEqual(ids[1], collide);
  assert.match(ids[1]!, /^[a-zA-Z0-9]{9}$/);
  assert.equal(out[1]!.tool_call_id, ids[1]);
});

test('seedField renames seed; dropFields removes top-level and per-message fields (stream_options too)', () => {
  const mistral = sent('mistral', { seed: 42, stream: true });
  assert.equal(mistral.random_seed, 42);
  assert.equal('seed' in mistral, false);
  assert.equal('stream_options' in mistral, false, 'dropped although the gateway adds it for usage');
  const groq = sent('groq', {
    logprobs: true,
    top_logprobs: 2,
    logit_bias: { '1': 1 },
    seed: 1,
    messages: [{ role: 'user', content: 'hi', name: 'ann' }],
  });
  assert.deepEqual(groq, { model: 'up', messages: [{ role: 'user', content: 'hi' }], seed: 1 });
});

test('a backend without compat options sends the unified request as is', () => {
  assert.deepEqual(sent('vllm', { seed: 3, messages: TOOL_HISTORY, logprobs: true }), {
    model: 'up',
    messages: TOOL_HISTORY,
    seed: 3,
    logprobs: true,
  });
});

test('maxN: n above it is a 400 naming n before anything leaves', () => {
  assert.throws(
    () => openAICompatibleProvider.checkRequest(request({ n: 2 }), backend('groq')),
    (err: unknown) =>
      err instanceof UnifiedError && err.status === 400 && err.param === 'n' && /at most 1 choice/.test(err.message),
  );
  openAICompatibleProvider.checkRequest(request({ n: 1 }), backend('groq'));
  openAICompatibleProvider.checkRequest(request({ n: 5 }), backend('vllm'));
});

const context = (clientWantsUsage: boolean): ResponseContext => ({
  request: request({ stream: true }),
  clientWantsUsage,
  requestId: 'r',
  created: 1,
});

function translate(stream: string, clientWantsUsage: boolean, cuts: readonly number[]) {
  return feed(openAICompatibleProvider.createStreamTranslator(context(clientWantsUsage)), Buffer.from(stream), cuts);
}

/** The same output at every single cut, at many random multi-cuts and byte by byte; returns the whole text. */
function outputHoweverSplit(stream: string, clientWantsUsage: boolean): string {
  return assertSplitInvariant((cuts) => translate(stream, clientWantsUsage, cuts), Buffer.byteLength(stream)).text;
}

const M = '"id":"b3999b","object":"chat.completion.chunk","created":1769088854,"model":"mistral-small-latest"';
/** Mistral's documented stream shape: whole tool calls without index/type, usage on the finish chunk, no usage chunk. */
const MISTRAL_TOOL_STREAM =
  `data: {${M},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}]}\n\n` +
  `data: {${M},"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"id":"gSIMJiOkT","function":{"name":"weather","arguments":"{\\"city\\": \\"Paris\\"}"}}]},"finish_reason":null,"logprobs":null}]}\n\n` +
  `data: {${M},"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"id":"Kq2mX9zPa","function":{"name":"weather","arguments":"{\\"city\\": \\"Oslo\\"}"}}]},"finish_reason":"tool_calls","logprobs":null}],"usage":{"prompt_tokens":124,"total_tokens":146,"completion_tokens":22}}\n\n` +
  'data: [DONE]\n\n';

interface Chunk {
  choices: Array<{ delta: { content?: string | null; tool_calls?: unknown[] }; finish_reason: string | null }>;
  usage?: unknown;
  error?: { type: string };
}

function events(text: string): Array<Chunk | '[DONE]'> {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((e) => (e === 'data: [DONE]' ? '[DONE]' : JSON.parse(e.slice(6))));
}

test('Mistral tool-call deltas get index and type; usage moves to its own chunk before [DONE]', () => {
  const out = events(outputHoweverSplit(MISTRAL_TOOL_STREAM, true)) as Chunk[];
  assert.deepEqual(out[1]!.choices[0]!.delta.tool_calls, [
    { id: 'gSIMJiOkT', function: { name: 'weather', arguments: '{"city": "Paris"}' }, index: 0, type: 'function' },
  ]);
  assert.deepEqual(out[2]!.choices[0]!.delta.tool_calls, [
    { id: 'Kq2mX9zPa', function: { name: 'weather', arguments: '{"city": "Oslo"}' }, index: 1, type: 'function' },
  ]);
  assert.equal(out[2]!.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(out[2]!.usage, null, 'with include_usage, choice chunks carry usage: null');
  assert.deepEqual(out[3], {
    id: 'b3999b',
    object: 'chat.completion.chunk',
    created: 1769088854,
    model: 'mistral-small-latest',
    choices: [],
    usage: { prompt_tokens: 124, total_tokens: 146, completion_tokens: 22 },
  });
  assert.equal(out[4], '[DONE]');
  assert.equal(out.length, 5);
});

test('without include_usage the usage is recorded but the client sees none', () => {
  const text = outputHoweverSplit(MISTRAL_TOOL_STREAM, false);
  const out = events(text) as Chunk[];
  assert.equal(out.length, 4);
  assert.ok(out.slice(0, 3).every((chunk) => !('usage' in chunk)));
  assert.equal(translate(MISTRAL_TOOL_STREAM, false, []).usage?.totalTokens, 146);
});

test('a stream that ends without [DONE] still gets the usage chunk it asked for, then says it was cut off', () => {
  const noDone = MISTRAL_TOOL_STREAM.replace('data: [DONE]\n\n', '');
  const output = outputHoweverSplit(noDone, true);
  const out = events(output) as unknown[];
  assert.equal(out.at(-1), '[DONE]');
  assert.equal((out.at(-2) as { error?: { code?: string } }).error?.code, 'upstream_stream_truncated');
  assert.deepEqual((out.at(-3) as Chunk | undefined)?.choices, []);
});

test('tool-call fragments without index continue the current call', () => {
  const stream =
    `data: {${M},"choices":[{"index":0,"delta":{"tool_calls":[{"id":"aaaaaaaaa","function":{"name":"f","arguments":"{\\"a\\""}}]},"finish_reason":null}]}\n\n` +
    `data: {${M},"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]},"finish_reason":null}]}\n\n` +
    'data: [DONE]\n\n';
  const out = events(outputHoweverSplit(stream, false)) as Chunk[];
  assert.deepEqual(out[1]!.choices[0]!.delta.tool_calls, [{ function: { arguments: ':1}' }, index: 0 }]);
});

test('finish reasons outside OpenAI’s set: model_length is length, error becomes an error event', () => {
  const finish = (reason: string) =>
    `data: {${M},"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"${reason}"}]}\n\ndata: [DONE]\n\n`;
  const length = events(outputHoweverSplit(finish('model_length'), false)) as Chunk[];
  assert.equal(length[0]!.choices[0]!.finish_reason, 'length');
  const failed = events(outputHoweverSplit(finish('error'), false)) as Chunk[];
  assert.equal(failed[0]!.choices[0]!.finish_reason, null);
  assert.equal(failed[0]!.choices[0]!.delta.content, 'x');
  assert.equal(failed[1]!.error?.type, 'server_error');
  assert.equal(failed[2], '[DONE]');
});

test('whole responses: OpenAI-shaped ones pass through, odd finish reasons are repaired', () => {
  const body = (reason: string) =>
    Buffer.from(
      JSON.stringify({
        id: 'x',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: reason }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  assert.equal(openAICompatibleProvider.translateResponse(200, body('stop'), context(false)).body, undefined);
  const repaired = openAICompatibleProvider.translateResponse(200, body('model_length'), context(false));
  assert.equal(JSON.parse(repaired.body!.toString()).choices[0]!.finish_reason, 'length');
  const failed = openAICompatibleProvider.translateResponse(200, body('error'), context(false));
  assert.equal(failed.status, 502);
  assert.equal(failed.usage?.totalTokens, 2);
});

test('OpenAI’s own streams pass through untouched', () => {
  const openai =
    `data: {${M},"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}\n\n` +
    `data: {${M},"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n`;
  const translator = openAICompatibleProvider.createStreamTranslator(context(false));
  assert.equal(translator.push(Buffer.from(openai)), undefined);
});
