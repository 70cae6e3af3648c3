// Errors the gateway rewrites, through a real Envoy: a provider rejecting the gateway's own key is a gateway
// error (502 upstream_authentication_failed) that fails over when it can, and every rewritten error carries the
// request id in its message and in x-request-id.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { listenOnLoopback, type LoopbackServer } from '../../src/testing/http.js';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic.js';
import { COMPLETION_TEXT, startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

let claude: MockAnthropic;
let fallback: MockOpenAI;
let plain: LoopbackServer;
let service: TestService;
let client: OpenAI;

before(async () => {
  claude = await startMockAnthropic({ apiKey: 'sk-ant-the-right-key' });
  fallback = await startMockOpenAI();
  // An OpenAI-compatible server that fails with a plain-text 500 body.
  plain = await listenOnLoopback(
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal failure, no JSON here');
      });
    }),
  );
  service = await startTestService(
    `
backends:
  - { name: claude, provider: anthropic, baseUrl: "${claude.baseUrl}", apiKeyEnv: GW_ERR_ANTHROPIC_KEY }
  - { name: local, provider: openai-compatible, baseUrl: "${fallback.baseUrl}", priority: 1 }
  - { name: plain, provider: openai-compatible, baseUrl: "http://127.0.0.1:${plain.port}/v1" }
routes:
  - model: with-failover
    backends: [{ backend: claude, model: claude-sonnet-4-5 }, { backend: local, model: local-llama }]
  - model: claude-only
    backends: [{ backend: claude, model: claude-sonnet-4-5 }]
  - model: plain-text-500
    backends: [{ backend: plain }]
`,
    { GW_ERR_ANTHROPIC_KEY: 'sk-ant-a-revoked-key' },
  );
  client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'the-clients-own-key', maxRetries: 0 });
});

after(async () => {
  await service.close();
  await claude.close();
  await fallback.close();
  await plain.close();
});

const ask = (model: string) =>
  fetch(`${service.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer the-clients-own-key' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

test("a provider rejecting the gateway's key fails over to the next backend", async () => {
  const before = fallback.received.length;
  const completion = await client.chat.completions.create({
    model: 'with-failover',
    messages: [{ role: 'user', content: 'hi' }],
  });
  assert.equal(completion.choices[0]?.message.content, COMPLETION_TEXT);
  assert.equal(fallback.received.length, before + 1);
  const attempts = (await service.lastRequest())?.attempts.map((a) => a.backend);
  assert.deepEqual(attempts, ['claude', 'local']);
});

test("without a failover it is a 502 upstream_authentication_failed (never the client's 401), logged with the request id, counted", async () => {
  const res = await ask('claude-only');
  assert.equal(res.status, 502);
  const requestId = res.headers.get('x-request-id');
  assert.ok(requestId, 'x-request-id header');
  const body = (await res.json()) as { error: { code: string; type: string; message: string } };
  assert.equal(body.error.code, 'upstream_authentication_failed');
  assert.equal(body.error.type, 'server_error');
  assert.ok(body.error.message.includes(`(request id: ${requestId})`), body.error.message);
  assert.doesNotMatch(body.error.message, /x-api-key|sk-ant/);
  assert.equal(res.headers.get('x-llm-extproc-upstream-auth'), null, 'the internal marker is stripped');
  const metrics = await (await fetch(`${service.adminUrl}/metrics`)).text();
  assert.match(metrics, /llm_extproc_upstream_auth_failures_total\{backend="claude",status="401"\} [1-9]/);
});

test('an upstream 500 with a plain-text body reaches the client OpenAI-shaped, with the request id in the message and the header', async () => {
  const res = await ask('plain-text-500');
  assert.equal(res.status, 500);
  const requestId = res.headers.get('x-request-id');
  assert.ok(requestId, 'x-request-id header');
  const body = (await res.json()) as { error: { message: string; type: string } };
  assert.equal(body.error.type, 'server_error');
  assert.match(body.error.message, /internal failure, no JSON here/);
  assert.ok(body.error.message.endsWith(`(request id: ${requestId})`), body.error.message);
});

test('an OpenAI-shaped upstream error passes with the request id added', async (t) => {
  fallback.failWith = 400;
  t.after(() => {
    fallback.failWith = undefined;
  });
  const res = await ask('with-failover');
  // claude fails auth (502, retried), local answers 400: the client sees local's 400.
  assert.equal(res.status, 400);
  const requestId = res.headers.get('x-request-id');
  assert.ok(requestId);
  const body = (await res.json()) as { error: { message: string } };
  assert.ok(body.error.message.endsWith(`(request id: ${requestId})`), body.error.message);
});
