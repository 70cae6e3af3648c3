// Cross-provider failover: Envoy retries on the next priority and the upstream stage translates each attempt
// for the backend that attempt goes to.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic.js';
import { COMPLETION_TEXT, startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

let claude: MockAnthropic;
let fallback: MockOpenAI;
let service: TestService;
let client: OpenAI;

before(async () => {
  claude = await startMockAnthropic({ apiKey: 'sk-ant-test' });
  fallback = await startMockOpenAI();
  service = await startTestService(
    `
backends:
  - { name: claude, provider: anthropic, baseUrl: "${claude.baseUrl}", apiKeyEnv: FAILOVER_ANTHROPIC_KEY }
  - { name: local, provider: openai-compatible, baseUrl: "${fallback.baseUrl}", priority: 1 }
routes:
  - model: assistant
    backends: [{ backend: claude, model: claude-sonnet-4-5 }, { backend: local, model: local-llama }]
`,
    { FAILOVER_ANTHROPIC_KEY: 'sk-ant-test' },
  );
  client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'client-key', maxRetries: 0 });
});

after(async () => {
  await service.close();
  await claude.close();
  await fallback.close();
});

test('an Anthropic 529 (overloaded) fails over to the OpenAI-compatible backend at priority 1', async (t) => {
  claude.failWith = { status: 529, type: 'overloaded_error', message: 'Overloaded' };
  t.after(() => {
    claude.failWith = undefined;
  });
  const completion = await client.chat.completions.create({
    model: 'assistant',
    messages: [{ role: 'user', content: 'hi' }],
  });
  assert.equal(completion.choices[0]?.message.content, COMPLETION_TEXT);
  const seen = fallback.received.at(-1);
  assert.equal(seen?.body.model, 'local-llama');
  assert.equal(seen?.headers['x-api-key'], undefined, 'the Anthropic key does not follow the retry');
  assert.equal(seen?.headers['anthropic-version'], undefined, 'nor do Anthropic headers');
  assert.deepEqual(
    (await service.lastRequest())?.attempts.map((a) => [a.backend, a.outcome]),
    [
      ['claude', '529'],
      ['local', '200'],
    ],
  );
});

test('without a fallback answer the 529 reaches the client as an OpenAI-shaped 503', async (t) => {
  claude.failWith = { status: 529, type: 'overloaded_error', message: 'Overloaded' };
  fallback.failWith = 529;
  t.after(() => {
    claude.failWith = undefined;
    fallback.failWith = undefined;
  });
  await assert.rejects(
    client.chat.completions.create({ model: 'assistant', messages: [{ role: 'user', content: 'hi' }] }),
    (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.ok(err.status === 503 || err.status === 529, `status ${err.status}`);
      return true;
    },
  );
});
