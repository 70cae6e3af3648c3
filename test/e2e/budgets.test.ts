// Budgets end to end: the OpenAI SDK with virtual keys through the local data plane. Requests are identified,
// counted and reserved before they leave; refusals are OpenAI-shaped 429s/401s; nothing stays reserved.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { startRedis, type TestRedis } from '../../src/budget/testing/redis.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const ASK = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }], max_tokens: 20 };

interface BudgetView {
  subject: string;
  metric: string;
  window: string;
  used: number;
  reserved: number;
  limit: number;
}

function budgetsYaml(upstream: string, store: string): string {
  return `
backends:
  - { name: primary, provider: openai, baseUrl: "${upstream}", apiKeyEnv: BUDGET_E2E_KEY }
routes:
  - model: gpt-4o-mini
    backends: [{ backend: primary }]
budgets:
  store: ${store}
  prices:
    gpt-4o-mini: { input: 0.15, cachedInput: 0.075, output: 0.60 }
  organisations:
    - name: acme
      teams:
        - name: search
          keys:
            - { name: small, sha256: "${sha256('vk-small')}", limits: [{ window: day, totalTokens: 100 }] }
            - { name: roomy, sha256: "${sha256('vk-roomy')}", limits: [{ window: month, costUsd: 10 }], rate: { rpm: 1000 } }
`;
}

async function budgetViews(service: TestService): Promise<BudgetView[]> {
  const body = (await (await fetch(`${service.adminUrl}/budgets`)).json()) as {
    enabled: boolean;
    budgets: BudgetView[];
  };
  assert.equal(body.enabled, true);
  return body.budgets;
}

describe('budgets with the memory store', () => {
  let upstream: MockOpenAI;
  let service: TestService;
  const client = (key: string) => new OpenAI({ baseURL: service.baseUrl, apiKey: key, maxRetries: 0 });

  before(async () => {
    upstream = await startMockOpenAI({ apiKey: 'sk-provider' });
    service = await startTestService(budgetsYaml(upstream.baseUrl, '{ kind: memory }'), {
      BUDGET_E2E_KEY: 'sk-provider',
    });
  });
  after(async () => {
    await service.close();
    await upstream.close();
  });

  test('a request within budget succeeds and carries x-ratelimit headers; the virtual key never goes upstream', async () => {
    const { data, response } = await client('vk-roomy').chat.completions.create(ASK).withResponse();
    assert.equal(data.usage?.total_tokens, 19);
    assert.ok(response.headers.get('x-ratelimit-limit-requests'), 'rate-limit headers on success');
    assert.equal(upstream.received.at(-1)?.headers.authorization, 'Bearer sk-provider');
    const entry = (await service.lastRequest())?.dynamicMetadata['llm-extproc'];
    assert.equal(entry?.budget_subject, 'acme/search/roomy');
    assert.ok(Number(entry?.cost_usd) > 0, 'cost in dynamic metadata');
  });

  test('a spent budget is refused before the provider sees it: 429 insufficient_quota with retry-after', async () => {
    const small = client('vk-small');
    const before = upstream.received.length;
    let refused: InstanceType<typeof OpenAI.RateLimitError> | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        await small.chat.completions.create(ASK);
      } catch (err) {
        if (err instanceof OpenAI.RateLimitError) refused = err;
        else throw err;
      }
    }
    assert.ok(refused, 'the small budget ran out');
    assert.equal(refused.code, 'insufficient_quota');
    assert.ok(Number(refused.headers?.get('retry-after')) > 0);
    const used = (await budgetViews(service)).find(
      (v) => v.subject === 'acme/search/small' && v.metric === 'totalTokens',
    );
    assert.ok(used && used.used <= used.limit, `used ${used?.used} of ${used?.limit}`);
    assert.ok(upstream.received.length - before < 10, 'refused requests never reached the provider');
    const metricsText = await (await fetch(`${service.adminUrl}/metrics`)).text();
    assert.match(metricsText, /llm_extproc_budget_refusals_total\{code="insufficient_quota"\} [1-9]/);
    assert.match(
      metricsText,
      /llm_extproc_budget_remaining\{subject="acme\/search\/small",window="day",metric="totalTokens"\} \d+/,
    );
  });

  test('an unknown key is a 401 invalid_api_key; no key is a 401 too', async () => {
    await assert.rejects(
      client('vk-nobody').chat.completions.create(ASK),
      (err: unknown) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_api_key',
    );
    const res = await fetch(`${service.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ASK),
    });
    assert.equal(res.status, 401);
  });

  test('a stream the client abandons leaves nothing reserved', async () => {
    upstream.chunkDelayMs = 20;
    upstream.streamChunks = 50;
    try {
      const controller = new AbortController();
      const stream = await client('vk-roomy').chat.completions.create(
        { ...ASK, stream: true },
        { signal: controller.signal },
      );
      let seen = 0;
      for await (const _chunk of stream) {
        if (++seen === 3) {
          controller.abort();
          break;
        }
      }
    } finally {
      upstream.chunkDelayMs = 0;
      upstream.streamChunks = 5;
    }
    const deadline = Date.now() + 5000;
    let reserved = Infinity;
    while (Date.now() < deadline) {
      reserved = (await budgetViews(service)).reduce((sum, v) => sum + v.reserved, 0);
      if (reserved === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(reserved, 0);
  });
});

describe('budgets with the Redis store', () => {
  let redis: TestRedis;
  let upstream: MockOpenAI;
  let service: TestService;

  before(async () => {
    redis = await startRedis();
    upstream = await startMockOpenAI({ apiKey: 'sk-provider' });
    service = await startTestService(budgetsYaml(upstream.baseUrl, `{ kind: redis, url: "${redis.url}" }`), {
      BUDGET_E2E_KEY: 'sk-provider',
    });
  });
  after(async () => {
    await service.close();
    await upstream.close();
    await redis.stop();
  });

  test('usage is settled in Redis and visible on GET /budgets', async () => {
    const client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'vk-roomy', maxRetries: 0 });
    await client.chat.completions.create(ASK);
    const views = await budgetViews(service);
    const cost = views.find((v) => v.subject === 'acme/search/roomy' && v.metric === 'costUsd');
    assert.ok(cost && cost.used > 0 && cost.reserved === 0, JSON.stringify(cost));
  });
});
