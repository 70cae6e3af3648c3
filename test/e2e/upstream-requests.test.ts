// What leaves for a provider, through a real Envoy: client headers only from an allowlist (nothing that describes
// the body we replaced, no cookies, proxy or OpenAI-account headers, no internal ones), fields a lenient backend
// drops reported back, and the results of parallel tool calls paired with their calls for every provider.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

let openai: MockOpenAI;
let claude: MockAnthropic;
let service: TestService;

before(async () => {
  openai = await startMockOpenAI();
  claude = await startMockAnthropic({ apiKey: 'sk-ant-ok' });
  service = await startTestService(
    `
backends:
  - { name: local, provider: openai-compatible, baseUrl: "${openai.baseUrl}", forwardHeaders: [x-team] }
  - { name: claude, provider: anthropic, baseUrl: "${claude.baseUrl}", apiKeyEnv: UR_ANTHROPIC_KEY }
  - { name: claude-lenient, provider: anthropic, baseUrl: "${claude.baseUrl}", apiKeyEnv: UR_ANTHROPIC_KEY, unsupportedParams: drop }
routes:
  - { model: local, backends: [{ backend: local }] }
  - { model: strict-claude, backends: [{ backend: claude, model: claude-sonnet-4-5 }] }
  - { model: lenient-claude, backends: [{ backend: claude-lenient, model: claude-sonnet-4-5 }] }
  - { model: lenient-by-route, unsupportedParams: drop, backends: [{ backend: claude, model: claude-sonnet-4-5 }] }
`,
    { UR_ANTHROPIC_KEY: 'sk-ant-ok' },
  );
});

after(async () => {
  await service.close();
  await openai.close();
  await claude.close();
});

/** A raw POST (the SDK would not let a test send arbitrary headers such as cookie or content-encoding). */
function post(
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const url = new URL(`${service.baseUrl}${path}`);
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('client headers reach a provider only from the allowlist', () => {
  test('cookies, proxy credentials, OpenAI account headers, x-envoy-*, x-llm-extproc-* and a content-encoding are removed', async () => {
    const res = await post(
      '/chat/completions',
      {
        cookie: 'session=secret',
        'proxy-authorization': 'Basic c2VjcmV0',
        'openai-organization': 'org-client',
        'openai-project': 'proj-client',
        'x-envoy-upstream-alt-stat-name': 'client-chosen',
        'x-envoy-client-sent': '1',
        'x-llm-extproc-backend': 'spoofed',
        'x-llm-extproc-anything': 'x',
        'content-encoding': 'gzip',
        'x-custom-client': 'not allowlisted',
        'x-team': 'blue',
        'user-agent': 'my-app/1.0',
        accept: 'application/json',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        authorization: 'Bearer client-virtual-key',
      },
      { model: 'local', messages: [{ role: 'user', content: 'hi' }] },
    );
    assert.equal(res.status, 200, res.body);
    const seen = openai.received.at(-1)?.headers ?? {};
    for (const name of [
      'cookie',
      'proxy-authorization',
      'openai-organization',
      'openai-project',
      'x-envoy-upstream-alt-stat-name',
      'x-envoy-client-sent',
      'x-llm-extproc-backend',
      'x-llm-extproc-anything',
      'x-llm-extproc-route',
      'content-encoding',
      'x-custom-client',
      'authorization',
    ]) {
      assert.equal(seen[name], undefined, `${name} must not reach the provider (got ${String(seen[name])})`);
    }
    assert.equal(seen['x-team'], 'blue', 'forwardHeaders adds to the allowlist');
    assert.equal(seen['user-agent'], 'my-app/1.0');
    assert.equal(seen.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.ok(seen['x-request-id'], 'the request id travels for correlation');
    assert.equal(seen['content-type'], 'application/json');
  });
});

describe('strict by default, lenient on request (unsupportedParams)', () => {
  const client = () => new OpenAI({ baseURL: service.baseUrl, apiKey: 'k', maxRetries: 0 });
  test('strict: a field Anthropic cannot honour is a 400 naming it', async () => {
    await assert.rejects(
      client().chat.completions.create({
        model: 'strict-claude',
        messages: [{ role: 'user', content: 'hi' }],
        presence_penalty: 0.5,
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'presence_penalty',
    );
  });
  for (const model of ['lenient-claude', 'lenient-by-route']) {
    test(`${model}: droppable fields are left out, reported in a header and a metric`, async () => {
      const { data, response } = await client()
        .chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'hi' }],
          presence_penalty: 0.5,
          logprobs: true,
          top_logprobs: 2,
        })
        .withResponse();
      assert.ok(data.choices[0]?.message.content);
      const dropped = (response.headers.get('x-llm-extproc-dropped-params') ?? '').split(',').sort();
      assert.deepEqual(dropped, ['logprobs', 'presence_penalty', 'top_logprobs']);
      const sent = claude.received.at(-1)?.body as Record<string, unknown>;
      for (const field of dropped) assert.equal(sent[field], undefined, field);
      const metrics = await (await fetch(`${service.adminUrl}/metrics`)).text();
      assert.match(
        metrics,
        /llm_extproc_dropped_params_total\{backend="claude(-lenient)?",param="presence_penalty"\} [1-9]/,
      );
    });
  }
  test('lenient still refuses what cannot be dropped safely (n > 1)', async () => {
    await assert.rejects(
      client().chat.completions.create({ model: 'lenient-claude', messages: [{ role: 'user', content: 'hi' }], n: 2 }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'n',
    );
  });
  test('strict backends send no dropped-params header', async () => {
    const { response } = await client()
      .chat.completions.create({ model: 'strict-claude', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(response.headers.get('x-llm-extproc-dropped-params'), null);
  });
});
