// End to end: the official OpenAI SDK → local data plane → both ext_proc stages over real gRPC → mock upstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMockOpenAI, COMPLETION_TEXT, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('OpenAI SDK through the local data plane', () => {
  let primary: MockOpenAI;
  let secondary: MockOpenAI;
  let service: Service;
  let client: OpenAI;

  before(async () => {
    primary = await startMockOpenAI({ apiKey: 'sk-upstream-primary' });
    secondary = await startMockOpenAI();
    service = await startTestService(
      `
limits: { maxRequestBodyBytes: 4096 }
backends:
  - { name: primary, provider: openai, baseUrl: "${primary.baseUrl}", apiKeyEnv: E2E_PRIMARY_KEY }
  - { name: secondary, provider: openai-compatible, baseUrl: "${secondary.baseUrl}", priority: 1 }
  - { name: keyless-disabled, provider: openai, baseUrl: "${primary.baseUrl}", apiKeyEnv: E2E_UNSET_KEY }
routes:
  - model: gpt-4o-mini
    backends: [{ backend: primary, model: gpt-4o-mini-2024-07-18 }, { backend: secondary, model: local-llama }]
  - model: needs-key
    backends: [{ backend: keyless-disabled }]
`,
      { E2E_PRIMARY_KEY: 'sk-upstream-primary' },
    );
    client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'virtual-key-of-the-client', maxRetries: 0 });
  });

  after(async () => {
    await service.close();
    await primary.close();
    await secondary.close();
  });

  test('a non-streaming completion comes back whole, with usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    assert.equal(completion.choices[0]?.message.content, COMPLETION_TEXT);
    assert.equal(completion.usage?.total_tokens, 19);
    const seen = primary.received.at(-1);
    assert.equal(seen?.body.model, 'gpt-4o-mini-2024-07-18', 'the upstream gets its own model name');
    assert.equal(seen?.headers.authorization, 'Bearer sk-upstream-primary', 'the provider key replaces the client key');
    assert.equal(seen?.headers['x-llm-extproc-route'], undefined, 'internal routing headers do not leak upstream');
    // The access log carries the dynamic metadata the router stage emitted, as Envoy's would.
    const entry = await service.lastRequest();
    assert.deepEqual(entry?.dynamicMetadata['llm-extproc'], {
      model: 'gpt-4o-mini',
      route: 'llm.gpt-4o-mini',
      stream: false,
      backend: 'primary',
      status: 200,
      prompt_tokens: 12,
      completion_tokens: 7,
      total_tokens: 19,
      cached_prompt_tokens: 0,
      reasoning_tokens: 0,
      health_verdict: 'pass',
    });
    assert.ok(!JSON.stringify(service.accessLog).includes('sk-upstream-primary'), 'no key in the access log');
  });

  test('a stream without include_usage delivers the text and no usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    let text = '';
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices.length === 0 || chunk.usage) usageChunks++;
    }
    assert.equal(text.length > 0, true);
    assert.equal(usageChunks, 0);
    assert.deepEqual(
      primary.received.at(-1)?.body.stream_options,
      { include_usage: true },
      'the upstream was still asked for usage',
    );
  });

  test('a stream with include_usage ends with the usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.equal(last?.usage?.total_tokens, 19);
  });

  test('a long stream arrives complete and in order', async (t) => {
    primary.streamChunks = 300;
    t.after(() => {
      primary.streamChunks = 5;
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'long' }],
    });
    let deltas = 0;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) deltas++;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(deltas, 300);
    assert.equal(finish, 'stop');
  });

  test('an unknown model is a 404 in the OpenAI error shape', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.NotFoundError);
        assert.equal(err.code, 'model_not_found');
        assert.equal(err.param, 'model');
        assert.ok(err.requestID, 'the error carries a request id');
        return true;
      },
    );
  });

  test('a schema violation is a 400 naming the field', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
        temperature: 7,
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'temperature',
    );
  });

  test('malformed JSON is a 400 invalid_json, not a crash', async () => {
    const res = await fetch(`${service.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": "gpt-4o-mini", ',
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; type: string } };
    assert.equal(body.error.code, 'invalid_json');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.ok(res.headers.get('x-request-id'));
  });

  test('a body over the configured limit is a 413', async () => {
    const big = 'x'.repeat(5000);
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: big }] }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 413 && err.code === 'request_too_large',
    );
  });

  test('a model whose backends are all disabled is a generic 503 with the request id; the detail is in admin /backends', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'needs-key', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 503);
        assert.doesNotMatch(err.message, /E2E_UNSET_KEY/);
        assert.match(err.message, /\(request id: [^)]+\)/);
        return true;
      },
    );
    const res = await fetch(`${service.adminUrl}/backends`);
    assert.equal(res.status, 200);
    const view = (await res.json()) as { backends: Array<{ name: string; enabled: boolean; disabledReason?: string }> };
    const disabled = view.backends.find((b) => b.disabledReason?.includes('E2E_UNSET_KEY'));
    assert.ok(disabled && !disabled.enabled, JSON.stringify(view));
    assert.doesNotMatch(JSON.stringify(view), /sk-|secret/i);
  });

  test('when the primary answers 503 the request fails over to the priority-1 backend', async (t) => {
    primary.failWith = 503;
    const before = secondary.received.length;
    t.after(() => {
      primary.failWith = undefined;
    });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    assert.equal(completion.choices[0]?.message.content, COMPLETION_TEXT);
    const seen = secondary.received.at(-1);
    assert.equal(secondary.received.length, before + 1);
    assert.equal(seen?.body.model, 'local-llama', 'the retry was rewritten for the second backend');
    assert.equal(seen?.headers.authorization, undefined, 'no key leaks to a key-less backend');
  });

  test('an upstream error that is not retried reaches the client in the OpenAI shape', async (t) => {
    primary.failWith = 400;
    t.after(() => {
      primary.failWith = undefined;
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && /mock failure 400/.test(err.message),
    );
  });

  test('a client that disconnects mid-stream does not hurt the service', async () => {
    primary.chunkDelayMs = 20;
    primary.streamChunks = 100;
    try {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] },
        { signal: controller.signal },
      );
      let seen = 0;
      for await (const _chunk of stream) {
        if (++seen === 3) {
          controller.abort();
          break;
        }
      }
      assert.equal(seen, 3);
      // The upstream request is torn down too, and the service keeps serving.
      const deadline = Date.now() + 5000;
      while (primary.abortedStreams === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(primary.abortedStreams, 1);
      // …and the router stage saw its ext_proc stream cancelled rather than completed.
      const metricsText = await (await fetch(`${service.adminUrl}/metrics`)).text();
      assert.match(
        metricsText,
        /llm_extproc_stream_failures_total\{stage="router",reason="(cancelled|abandoned)"\} [1-9]/,
      );
    } finally {
      primary.chunkDelayMs = 0;
      primary.streamChunks = 5;
    }
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'still there?' }],
    });
    assert.equal(completion.choices[0]?.message.content, COMPLETION_TEXT);
  });

  test('GET /v1/models lists the configured models', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    assert.deepEqual(models, ['gpt-4o-mini', 'needs-key']);
  });

  test('metrics count requests and tokens, and never contain keys', async () => {
    const text = await (await fetch(`${service.adminUrl}/metrics`)).text();
    assert.match(text, /llm_extproc_requests_total\{model="gpt-4o-mini",backend="primary",status_class="2xx"\} \d+/);
    assert.match(text, /llm_extproc_tokens_total\{model="gpt-4o-mini",backend="primary",kind="prompt"\} \d+/);
    assert.ok(!text.includes('sk-upstream-primary'));
    assert.ok(!text.includes('virtual-key-of-the-client'));
    assert.equal((await fetch(`${service.adminUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${service.adminUrl}/readyz`)).status, 200);
  });
});
