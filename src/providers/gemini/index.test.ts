import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { geminiResource } from './endpoint.js';
import { geminiProvider } from './index.js';
import { vertexProvider } from '../vertex/index.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: gemini, provider: gemini, apiKeyEnv: GEMINI_KEY }
  - { name: gemini-proxy, provider: gemini, baseUrl: "https://proxy.example.com/google/v1beta?tenant=a", headers: { x-team: blue } }
routes:
  - model: m
    backends: [{ backend: gemini }, { backend: gemini-proxy }]
`),
  { GEMINI_KEY: 'AIza-test-key' },
);
const backend = (name: string) => topology.backends.get(name)!;
const chat = (fields: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...fields }));
const now = new Date();

test('Gemini API: models/{model}:generateContent on the default base URL, key in x-goog-api-key', () => {
  const out = geminiProvider.buildRequest(chat(), {
    backend: backend('gemini'),
    upstreamModel: 'gemini-2.5-flash',
    now,
    credentials: attemptCredentials(backend('gemini')),
  });
  assert.equal(out.path, '/v1beta/models/gemini-2.5-flash:generateContent');
  assert.deepEqual(out.headers, { 'content-type': 'application/json', 'x-goog-api-key': 'AIza-test-key' });
  assert.deepEqual(JSON.parse(out.body.toString()), { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
});

test('Gemini API streaming uses :streamGenerateContent?alt=sse, keeping the base URL’s query and static headers', () => {
  const out = geminiProvider.buildRequest(chat({ stream: true }), {
    backend: backend('gemini-proxy'),
    upstreamModel: 'gemini-2.5-pro',
    now,
    credentials: attemptCredentials(backend('gemini-proxy')),
  });
  assert.equal(out.path, '/google/v1beta/models/gemini-2.5-pro:streamGenerateContent?tenant=a&alt=sse');
  assert.deepEqual(
    out.headers,
    { 'content-type': 'application/json', 'x-team': 'blue' },
    'a key-less backend sends no key',
  );
  assert.equal(JSON.parse(out.body.toString()).stream, undefined, 'the stream flag is the method, not a body field');
});

test('Gemini API model names with a slash are resource names', () => {
  assert.equal(geminiResource('tunedModels/my-model-1'), 'tunedModels/my-model-1');
  assert.equal(geminiResource('models/gemini-2.5-flash'), 'models/gemini-2.5-flash');
  assert.equal(geminiResource('odd name'), 'models/odd%20name');
});

test('both providers refuse what Gemini cannot honour before anything leaves', () => {
  for (const provider of [geminiProvider, vertexProvider]) {
    assert.throws(
      () => provider.checkRequest(chat({ logit_bias: { '1': 2 } }), backend('gemini')),
      (err: unknown) => err instanceof UnifiedError && err.param === 'logit_bias',
    );
    // reasoning_effort is checked against the model the endpoint sends: Gemini 2.0 does not think.
    assert.throws(
      () => provider.checkRequest(chat({ reasoning_effort: 'low' }), backend('gemini'), 'gemini-2.0-flash'),
      (err: unknown) => err instanceof UnifiedError && err.param === 'reasoning_effort',
    );
    assert.doesNotThrow(() =>
      provider.checkRequest(chat({ reasoning_effort: 'low' }), backend('gemini'), 'gemini-2.5-flash'),
    );
    assert.doesNotThrow(() => provider.checkRequest(chat({ temperature: 0.3 }), backend('gemini')));
  }
});

test('streams are recognised by their SSE content type', () => {
  assert.equal(geminiProvider.isStream('text/event-stream'), true);
  assert.equal(vertexProvider.isStream('text/event-stream; charset=utf-8'), true);
  assert.equal(geminiProvider.isStream('application/json; charset=UTF-8'), false);
});
