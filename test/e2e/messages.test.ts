// ext_proc messages per request, per stage, counted on the wire between a real Envoy 1.40 and the service (the
// HTTP/2 tap in bench/h2-tap.ts reads the gRPC length prefixes). Budgets are on (memory store) as users run them.
// The table this prints is the one in docs/benchmarks.md "Messages per request".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';
import type { StreamMessages } from '../../bench/h2-tap.js';
import type { JsonObject, JsonValue } from '../../src/util/json.js';

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
const SSE_EVENTS = 5;

function yaml(upstream: string): string {
  return `
backends:
  - { name: primary, provider: openai, baseUrl: "${upstream}", apiKeyEnv: MESSAGES_E2E_KEY }
routes:
  - model: gpt-4o-mini
    backends: [{ backend: primary }]
budgets:
  store: { kind: memory }
  prices:
    gpt-4o-mini: { input: 0.15, cachedInput: 0.075, output: 0.60 }
  organisations:
    - name: acme
      teams:
        - name: search
          keys:
            - { name: roomy, sha256: "${sha256('vk-roomy')}", limits: [{ window: month, costUsd: 10 }] }
            - { name: tiny, sha256: "${sha256('vk-tiny')}", limits: [{ window: day, totalTokens: 1 }] }
`;
}

/** Envoy's gRPC health checks would open streams of their own in the middle of a count. */
function withoutHealthChecks(node: JsonValue): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) return node.forEach(withoutHealthChecks);
  if (node.name === 'llm-extproc' && 'health_checks' in node) delete node.health_checks;
  for (const value of Object.values(node)) withoutHealthChecks(value);
}

let upstream: MockOpenAI;
let service: TestService;
before(async () => {
  upstream = await startMockOpenAI({ apiKey: 'sk-provider' });
  // One event per write, a few ms apart: Envoy hands each to the router stage as its own chunk.
  upstream.chunkDelayMs = 5;
  upstream.streamChunks = SSE_EVENTS - 4;
  service = await startTestService(
    yaml(upstream.baseUrl),
    { MESSAGES_E2E_KEY: 'sk-provider' },
    { tap: true, bootstrap: (b: JsonObject) => withoutHealthChecks(b) },
  );
});
after(async () => {
  await service?.close();
  await upstream?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one request and returns the ext_proc streams it opened (router first, then one per upstream attempt). */
async function streamsOf(
  request: () => Promise<Response>,
): Promise<{ status: number; streams: readonly StreamMessages[] }> {
  const tap = service.tap;
  if (!tap) throw new Error('no tap');
  const before = tap.streamMessages().length;
  const response = await request();
  await response.arrayBuffer();
  await service.lastRequest();
  await sleep(200); // the last answers and the graceful close follow the client's response
  return { status: response.status, streams: tap.streamMessages().slice(before) };
}

const chat = (key: string, body: Record<string, unknown>) => () =>
  fetch(`${service.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 20,
      ...body,
    }),
  });

const rows: string[] = [];
function row(name: string, status: number, streams: readonly StreamMessages[]): void {
  const [router, ...attempts] = streams;
  const upstreamIn = attempts.reduce((n, s) => n + s.envoy, 0);
  const total = streams.reduce((n, s) => n + s.envoy, 0);
  rows.push(`| ${name} | ${status} | ${router?.envoy ?? 0} | ${attempts.length === 0 ? '—' : upstreamIn} | ${total} |`);
}

test('JSON: router stage 4 messages (request headers, body, response headers, body), upstream stage 3 (request headers, body, response headers)', async () => {
  upstream.failWith = undefined;
  const { status, streams } = await streamsOf(chat('vk-roomy', {}));
  row('JSON 200', status, streams);
  assert.equal(status, 200);
  assert.deepEqual(
    streams.map((s) => [s.envoy, s.service]),
    [
      [4, 4],
      [3, 3],
    ],
  );
});

test(`SSE (${SSE_EVENTS} events): the router stage gets one message per chunk Envoy hands it`, async () => {
  const { status, streams } = await streamsOf(
    chat('vk-roomy', { stream: true, stream_options: { include_usage: true } }),
  );
  row(`SSE 200, ${SSE_EVENTS} events`, status, streams);
  assert.equal(status, 200);
  assert.equal(streams.length, 2);
  // Request headers, body, response headers, then one message per body chunk Envoy hands over: one per event as the
  // mock writes them, fewer when the events reach Envoy together (TCP coalesces writes on a loaded machine), plus
  // possibly an empty last one. The service answers every one.
  const router = streams[0]?.envoy ?? 0;
  assert.ok(router >= 3 + 1 && router <= 3 + SSE_EVENTS + 1, `router stage: ${router}`);
  assert.equal(streams[0]?.service, router);
  assert.deepEqual([streams[1]?.envoy, streams[1]?.service], [3, 3]);
});

test('provider error (400, not retried): the same messages as a success', async () => {
  upstream.failWith = 400;
  try {
    const { status, streams } = await streamsOf(chat('vk-roomy', {}));
    row('provider error 400', status, streams);
    assert.equal(status, 400);
    assert.deepEqual(
      streams.map((s) => [s.envoy, s.service]),
      [
        [4, 4],
        [3, 3],
      ],
    );
  } finally {
    upstream.failWith = undefined;
  }
});

test('budget refusal: two messages on the router stream (headers, body answered with an immediate response), no upstream stream', async () => {
  const { status, streams } = await streamsOf(chat('vk-tiny', {}));
  row('budget refusal 429', status, streams);
  assert.equal(status, 429);
  assert.deepEqual(
    streams.map((s) => [s.envoy, s.service]),
    [[2, 2]],
  );
});

test('models list: one message each way (request headers answered with an immediate response)', async () => {
  const { status, streams } = await streamsOf(() =>
    fetch(`${service.baseUrl}/models`, { headers: { authorization: 'Bearer vk-roomy' } }),
  );
  row('GET /v1/models', status, streams);
  assert.equal(status, 200);
  assert.deepEqual(
    streams.map((s) => [s.envoy, s.service]),
    [[1, 1]],
  );
});

after(() => {
  console.log(
    [
      '| request | status | router stage | upstream stage | total (Envoy → service) |',
      '|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
});
