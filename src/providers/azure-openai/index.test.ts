import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { ResponseContext } from '../provider.js';
import { azureOpenAIProvider } from './index.js';
import { feed } from '../testing/splits.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: classic, provider: azure-openai, baseUrl: "https://my-res.openai.azure.com", deployment: "gpt 4o/prod", apiVersion: 2024-10-21, apiKeyEnv: AZ_KEY }
  - { name: portal-url, provider: azure-openai, baseUrl: "https://my-res.openai.azure.com/openai/", deployment: gpt4o, apiKeyEnv: AZ_KEY }
  - { name: v1, provider: azure-openai, baseUrl: "https://my-res.openai.azure.com/openai/v1", apiKeyEnv: AZ_KEY }
  - { name: entra, provider: azure-openai, baseUrl: "https://my-res.openai.azure.com", apiKeyHeader: authorization, apiKeyEnv: AZ_TOKEN }
routes:
  - { model: gpt-4o, backends: [{ backend: classic }, { backend: v1 }] }
`),
  { AZ_KEY: 'azure-key', AZ_TOKEN: 'entra-token' },
);
const backend = (name: string) => topology.backends.get(name)!;
const request = (extra: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...extra }));
const build = (name: string, extra: Record<string, unknown> = {}) =>
  azureOpenAIProvider.buildRequest(request(extra), {
    backend: backend(name),
    upstreamModel: 'my-deployment',
    now: new Date(),
    credentials: attemptCredentials(backend(name)),
  });

test('the deployment route carries the deployment in the path and the api-version query', () => {
  const out = build('classic');
  assert.equal(out.path, '/openai/deployments/gpt%204o%2Fprod/chat/completions?api-version=2024-10-21');
  assert.equal(out.headers['api-key'], 'azure-key');
  assert.equal(out.headers.authorization, undefined);
  assert.equal(JSON.parse(out.body.toString()).model, 'my-deployment', 'sent, though this route ignores it');
  assert.equal(
    build('portal-url').path,
    '/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
    'default api-version; /openai not doubled',
  );
});

test('without a deployment the v1 route is used: no api-version, the model names the deployment', () => {
  const out = build('v1', { stream: true });
  assert.equal(out.path, '/openai/v1/chat/completions');
  const body = JSON.parse(out.body.toString());
  assert.equal(body.model, 'my-deployment');
  assert.deepEqual(body.stream_options, { include_usage: true });
});

test('an Entra token goes as a bearer authorization header', () => {
  assert.equal(build('entra').headers.authorization, 'Bearer entra-token');
});

const context = (clientWantsUsage: boolean): ResponseContext => ({
  request: request({ stream: true }),
  clientWantsUsage,
  requestId: 'r',
  created: 1,
});

test('whole responses pass through untouched, content-filter annotations included', () => {
  const body = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-A',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-2024-08-06',
      prompt_filter_results: [
        { prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } },
      ],
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: '' },
          finish_reason: 'content_filter',
          content_filter_results: { violence: { filtered: true, severity: 'high' } },
        },
      ],
      usage: { prompt_tokens: 10, completion_tokens: 0, total_tokens: 10 },
    }),
  );
  const out = azureOpenAIProvider.translateResponse(200, body, context(false));
  assert.equal(out.body, undefined);
  assert.equal(out.usage?.promptTokens, 10);
});

const FILTER_ONLY =
  'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}\n\n';
const chunk = (delta: string, finish: string | null) =>
  `data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}},"delta":${delta},"finish_reason":${finish === null ? 'null' : `"${finish}"`},"index":0,"logprobs":null}],"created":1718000000,"id":"chatcmpl-9Z","model":"gpt-4o-2024-05-13","object":"chat.completion.chunk","system_fingerprint":"fp_5f4bad809a","usage":null}\n\n`;
const USAGE =
  'data: {"choices":[],"created":1718000000,"id":"chatcmpl-9Z","model":"gpt-4o-2024-05-13","object":"chat.completion.chunk","usage":{"completion_tokens":2,"prompt_tokens":9,"total_tokens":11}}\n\n';
const STREAM =
  FILTER_ONLY +
  chunk('{"content":"","role":"assistant"}', null) +
  chunk('{"content":"Hi"}', null) +
  chunk('{}', 'content_filter') +
  USAGE +
  'data: [DONE]\n\n';

function translate(clientWantsUsage: boolean, cuts: number[]) {
  return feed(azureOpenAIProvider.createStreamTranslator(context(clientWantsUsage)), Buffer.from(STREAM), cuts);
}

test('streams: the prompt-filter-only chunk is dropped, everything else passes byte for byte, at every cut', () => {
  const body =
    chunk('{"content":"","role":"assistant"}', null) + chunk('{"content":"Hi"}', null) + chunk('{}', 'content_filter');
  for (let cut = 0; cut < STREAM.length; cut += 1) {
    const cuts = cut === 0 ? [] : [cut];
    assert.equal(translate(true, cuts).text, body + USAGE + 'data: [DONE]\n\n', `cut ${cut}`);
    const withoutUsage = translate(false, cuts);
    assert.equal(withoutUsage.text, body + 'data: [DONE]\n\n', `cut ${cut}`);
    assert.equal(withoutUsage.usage?.totalTokens, 11);
  }
});

test('the content_filter error becomes an OpenAI 400 that still says which filter fired', () => {
  const azure = {
    error: {
      message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
      type: null,
      param: 'prompt',
      code: 'content_filter',
      status: 400,
      innererror: {
        code: 'ResponsibleAIPolicyViolation',
        content_filter_result: { violence: { filtered: true, severity: 'high' } },
      },
    },
  };
  const out = azureOpenAIProvider.translateResponse(400, Buffer.from(JSON.stringify(azure)), context(false));
  assert.equal(out.status, undefined, 'stays 400');
  assert.deepEqual(JSON.parse(out.body!.toString()), {
    error: {
      message: azure.error.message,
      type: 'invalid_request_error',
      param: 'prompt',
      code: 'content_filter',
      innererror: azure.error.innererror,
    },
  });
});

test('Azure rate limits keep 429 and a retry-after read from the message', () => {
  const azure = {
    error: {
      code: '429',
      message:
        'Requests to the ChatCompletions_Create Operation have exceeded call rate limit. Please retry after 6 seconds.',
    },
  };
  const out = azureOpenAIProvider.translateResponse(429, Buffer.from(JSON.stringify(azure)), context(false));
  assert.deepEqual(out.headers, { 'retry-after': '6' });
  assert.deepEqual(JSON.parse(out.body!.toString()).error, {
    message: azure.error.message,
    type: 'rate_limit_error',
    param: null,
    code: '429',
  });
});

test('other Azure errors get OpenAI’s four fields', () => {
  const notFound = azureOpenAIProvider.translateResponse(
    404,
    Buffer.from(
      '{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}',
    ),
    context(false),
  );
  assert.deepEqual(JSON.parse(notFound.body!.toString()).error, {
    message: 'The API deployment for this resource does not exist.',
    type: 'invalid_request_error',
    param: null,
    code: 'DeploymentNotFound',
  });
  const plain = azureOpenAIProvider.translateResponse(502, Buffer.from('Bad Gateway'), context(false));
  assert.equal(JSON.parse(plain.body!.toString()).error.type, 'server_error');
});
