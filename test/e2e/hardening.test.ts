// Hardening through a real Envoy 1.40: deep JSON, broken OpenAI-compatible answers, Envoy's own 413, streams
// without a finish_reason or without usage. Every reply a client can get is OpenAI-shaped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { startMockOpenAI, COMPLETION_TEXT, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService, type Via } from '../support/service.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

/** A JSON schema nested `levels` deep, as text (JSON.stringify itself overflows on such values). */
function deepSchema(levels: number): string {
  return '{"type":"object","properties":{"a":'.repeat(levels) + '{"type":"string"}' + '}}'.repeat(levels);
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function yaml(upstream: string): string {
  return `
dataPlane: { bufferLimitBytes: 262144 }
limits: { maxRequestBodyBytes: 1048576 }
backends:
  - { name: compat, provider: openai-compatible, baseUrl: "${upstream}" }
routes:
  - model: gpt-4o-mini
    backends: [{ backend: compat }]
budgets:
  store: { kind: memory }
  organisations:
    - name: acme
      teams:
        - name: t
          keys:
            - { name: k, sha256: "${sha256('vk-hardening')}", limits: [{ window: day, totalTokens: 1000000 }] }
`;
}

async function metric(service: TestService, name: string): Promise<number> {
  const text = await (await fetch(`${service.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').at(-1));
  return sum;
}

async function keyUsed(service: TestService): Promise<number> {
  const body = (await (await fetch(`${service.adminUrl}/budgets`)).json()) as {
    budgets: { subject: string; metric: string; used: number }[];
  };
  return body.budgets.find((v) => v.subject === 'acme/t/k' && v.metric === 'totalTokens')?.used ?? Number.NaN;
}

for (const via of ['envoy', 'stand-in'] as Via[]) {
  describe(`hardening through ${via === 'envoy' ? 'Envoy 1.40' : 'the stand-in'}`, () => {
    let upstream: MockOpenAI;
    let service: TestService;
    let client: OpenAI;

    before(async () => {
      upstream = await startMockOpenAI();
      service = await startTestService(yaml(upstream.baseUrl), {}, { via });
      client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'vk-hardening', maxRetries: 0 });
    });
    after(async () => {
      await service.close();
      await upstream.close();
    });

    const post = (body: string) =>
      fetch(`${service.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer vk-hardening' },
        body,
      });

    test('a tool schema or response_format nested 3,000 levels is a 400 naming the field, not a 500', async () => {
      const head = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]';
      const cases: [string, string][] = [
        [
          `${head},"tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(3000)}}}]}`,
          'tools[0].function.parameters',
        ],
        [
          `${head},"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":${deepSchema(3000)}}}}`,
          'response_format.json_schema.schema',
        ],
        [
          `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"metadata":${'{"a":'.repeat(6000)}1${'}'.repeat(6000)}}`,
          'metadata',
        ],
      ];
      for (const [body, param] of cases) {
        const res = await post(body);
        assert.equal(res.status, 400, param);
        const json = (await res.json()) as ErrorBody;
        assert.equal(json.error.param, param);
        assert.equal(json.error.type, 'invalid_request_error');
      }
    });

    test('a body over per_connection_buffer_limit_bytes gets 413 request_too_large in the OpenAI shape', async () => {
      const res = await post(
        JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(400_000) }] }),
      );
      assert.equal(res.status, 413);
      const text = await res.text();
      const json = JSON.parse(text) as ErrorBody;
      assert.equal(json.error.code, 'request_too_large');
      assert.equal(json.error.type, 'invalid_request_error');
    });

    test('an OpenAI-compatible 200 with invalid JSON, or compressed, is a 502 upstream_invalid_response', async () => {
      for (const broken of ['invalid-json', 'gzip'] as const) {
        upstream.brokenBody = broken;
        const missingBefore = await metric(service, 'llm_extproc_usage_missing_total');
        try {
          await assert.rejects(
            client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
            (err: unknown) => {
              assert.ok(err instanceof OpenAI.APIError, String(err));
              assert.equal(err.status, 502, broken);
              assert.equal(err.code, 'upstream_invalid_response');
              return true;
            },
          );
        } finally {
          upstream.brokenBody = undefined;
        }
        assert.equal(await metric(service, 'llm_extproc_usage_missing_total'), missingBefore + 1);
        assert.ok(
          (await metric(
            service,
            `llm_extproc_upstream_invalid_responses_total{backend="compat",reason="${broken === 'gzip' ? 'compressed' : 'invalid_json'}"}`,
          )) >= 1,
        );
      }
    });

    test('a stream whose chunks all carry finish_reason null ends with a finish_reason; finalChatCompletion works', async (t) => {
      upstream.finishReason = null;
      t.after(() => {
        upstream.finishReason = 'stop';
      });
      const stream = client.chat.completions.stream({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const final = await stream.finalChatCompletion();
      assert.equal(final.choices[0]?.finish_reason, 'stop');
      assert.equal(final.choices[0]?.message.content, COMPLETION_TEXT);
    });

    test('include_usage against a server that cannot stream usage gets an estimated usage chunk', async (t) => {
      upstream.streamUsage = false;
      const usedBefore = await keyUsed(service);
      t.after(() => {
        upstream.streamUsage = true;
      });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'hi' }],
      });
      let usage: (OpenAI.CompletionUsage & { estimated?: boolean }) | undefined;
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
      assert.ok(usage, 'a usage chunk arrived');
      assert.equal(usage.estimated, true);
      assert.ok(usage.completion_tokens >= 5 && usage.completion_tokens <= 8, `completion ${usage.completion_tokens}`);
      assert.ok(usage.prompt_tokens > 0);
      assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
      const entry = await service.lastRequest();
      assert.equal(entry?.dynamicMetadata['llm-extproc']?.usage_estimated, true);
      // The budget is settled with the estimate (prompt counted + completion counted), not the prompt only.
      const deadline = Date.now() + 3000;
      while ((await keyUsed(service)) === usedBefore && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal((await keyUsed(service)) - usedBefore, usage.total_tokens);
    });
  });
}
