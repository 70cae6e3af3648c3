import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml, TWO_BACKENDS_YAML } from '../../testing/config.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import { openAIProvider } from './index.js';
import { feed } from '../testing/splits.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(configFromYaml(TWO_BACKENDS_YAML), { PRIMARY_KEY: 'sk-test-key' });
const primary = topology.backends.get('primary')!;
const local = topology.backends.get('local')!;
const request = (extra: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra }));

test('the request goes to the backend’s path with its model name and bearer key', () => {
  const out = openAIProvider.buildRequest(request(), {
    backend: primary,
    upstreamModel: 'gpt-4o-mini-2024-07-18',
    now: new Date(),
    credentials: attemptCredentials(primary),
  });
  assert.equal(out.path, '/v1/chat/completions');
  assert.equal(out.headers.authorization, 'Bearer sk-test-key');
  assert.equal(out.headers['content-type'], 'application/json');
  const body = JSON.parse(out.body.toString());
  assert.equal(body.model, 'gpt-4o-mini-2024-07-18');
  assert.equal(body.stream_options, undefined);
});

test('a key-less backend gets no credential header', () => {
  const out = openAIProvider.buildRequest(request(), {
    backend: local,
    upstreamModel: 'llama-3-8b',
    now: new Date(),
    credentials: attemptCredentials(local),
  });
  assert.equal(out.headers.authorization, undefined);
});

test('streaming requests always ask the upstream for usage, keeping other stream options', () => {
  const out = openAIProvider.buildRequest(request({ stream: true, stream_options: { include_obfuscation: false } }), {
    backend: primary,
    upstreamModel: 'm',
    now: new Date(),
    credentials: attemptCredentials(primary),
  });
  assert.deepEqual(JSON.parse(out.body.toString()).stream_options, { include_obfuscation: false, include_usage: true });
});

const CONTEXT = { request: request(), requestId: 'req-1', created: 1_700_000_000 };
const CHUNK = (content: string) =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}],"usage":null}\n\n`;
const USAGE_CHUNK =
  'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}}}\n\n';
const STREAM = CHUNK('Hel') + CHUNK('lo') + USAGE_CHUNK + 'data: [DONE]\n\n';

function translate(clientWantsUsage: boolean, cuts: number[]) {
  return feed(openAIProvider.createStreamTranslator({ ...CONTEXT, clientWantsUsage }), Buffer.from(STREAM), cuts);
}

test('without include_usage the extra usage chunk is removed, at every chunk boundary', () => {
  const expected = CHUNK('Hel') + CHUNK('lo') + 'data: [DONE]\n\n';
  for (let cut = 0; cut < STREAM.length; cut++) {
    const { text, usage } = translate(false, cut === 0 ? [] : [cut]);
    assert.equal(text, expected, `cut at ${cut}`);
    assert.deepEqual(usage, {
      promptTokens: 9,
      completionTokens: 2,
      totalTokens: 11,
      cachedPromptTokens: 4,
      reasoningTokens: 0,
    });
  }
});

test('with include_usage the stream passes through byte for byte, at every chunk boundary', () => {
  for (let cut = 0; cut < STREAM.length; cut++) {
    assert.equal(translate(true, cut === 0 ? [] : [cut]).text, STREAM, `cut at ${cut}`);
  }
});

test('a stream cut off before [DONE] ends with an error event and [DONE], so clients do not take it as complete', () => {
  const translator = openAIProvider.createStreamTranslator({ ...CONTEXT, clientWantsUsage: false });
  translator.push(Buffer.from(CHUNK('Hel')));
  const tail = translator.end().toString();
  assert.match(tail, /"code":"upstream_stream_truncated"/);
  assert.ok(tail.endsWith('data: [DONE]\n\n'));
});

test('chunks that end on event boundaries pass through without a rewrite', () => {
  const translator = openAIProvider.createStreamTranslator({ ...CONTEXT, clientWantsUsage: false });
  assert.equal(translator.push(Buffer.from(CHUNK('a'))), undefined);
});

test('a whole response yields usage and passes through unchanged', () => {
  const body = Buffer.from(
    JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    }),
  );
  const out = openAIProvider.translateResponse(200, body, { ...CONTEXT, clientWantsUsage: false });
  assert.equal(out.body, undefined);
  assert.equal(out.usage?.totalTokens, 7);
});
