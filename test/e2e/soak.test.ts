// A short soak through a real Envoy (the generated bootstrap) and the real service, budgets on (memory store, a
// budget that can never refuse): 1,500 requests at concurrency 32, JSON and SSE (include_usage) mixed, every answer
// checked in full. That is ~3,000 ext_proc streams, and Envoy 1.40 (default runtime) ends each one with RST_STREAM:
// past ~1,000 of them on one connection Node's HTTP/2 server (nghttp2's rapid-reset guard) answers with GOAWAY and
// requests in flight fail with 5xx. The long version is `npm run bench:soak` (bench/soak.ts, docs/benchmarks.md).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  runSoakLoad,
  soakConfigYaml,
  SOAK_KEY_ENV,
  SOAK_PROVIDER_KEY,
  SOAK_VIRTUAL_KEY,
} from '../../bench/soak-load.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

const REQUESTS = 1500;
const CONCURRENCY = 32;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function envoyCounter(service: TestService, name: string): Promise<number> {
  assert.ok(service.envoy, 'runs through Envoy');
  const escaped = name.replace(/[.]/g, '\\.');
  const { body } = await service.envoy.admin(`/stats?filter=^${escaped}$&format=json`);
  return (JSON.parse(body) as { stats?: Array<{ value?: number }> }).stats?.[0]?.value ?? 0;
}

/** The service's open ext_proc streams by stage, once they are all closed (or after 10 s). */
async function activeStreams(service: TestService): Promise<Record<string, number>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await (await fetch(`${service.adminUrl}/metrics`)).text();
    const byStage: Record<string, number> = {};
    for (const match of text.matchAll(/^llm_extproc_active_streams\{stage="([^"]+)"\} (\S+)$/gm))
      byStage[match[1] as string] = Number(match[2]);
    if (Object.values(byStage).every((n) => n === 0) || Date.now() > deadline) return byStage;
    await sleep(100);
  }
}

describe('steady load through Envoy (short soak)', () => {
  let upstream: MockOpenAI;
  let service: TestService;

  before(async () => {
    upstream = await startMockOpenAI({ apiKey: SOAK_PROVIDER_KEY });
    upstream.chunkDelayMs = 1;
    service = await startTestService(soakConfigYaml(upstream.baseUrl, true), { [SOAK_KEY_ENV]: SOAK_PROVIDER_KEY });
  });
  after(async () => {
    await service?.close();
    await upstream?.close();
  });

  test(
    `${REQUESTS} mixed JSON/SSE requests at concurrency ${CONCURRENCY}: every answer whole, no 5xx, no reset, every stream closed`,
    { timeout: 120_000 },
    async () => {
      const counts = await runSoakLoad({
        baseUrl: service.baseUrl,
        requests: REQUESTS,
        concurrency: CONCURRENCY,
        apiKey: SOAK_VIRTUAL_KEY,
        requestTimeoutMs: 20_000,
        deadline: Date.now() + 90_000,
      });
      const envoyTail = service.accessLog
        .filter((r) => r.responseCode !== 200)
        .slice(0, 5)
        .map((r) => `${r.responseCode} ${r.responseCodeDetails}`);
      const detail = JSON.stringify({
        statuses: counts.statuses,
        clientErrors: counts.clientErrors,
        examples: counts.examples,
        envoy: envoyTail,
      });
      assert.equal(counts.requests, REQUESTS, detail);
      assert.equal(counts.sse, REQUESTS / 2, 'half of the requests stream');
      assert.equal(counts.unexpected5xx, 0, `5xx the mock never sent: ${detail}`);
      assert.equal(counts.unexpectedNon200, 0, `refusals or other errors with a budget that cannot refuse: ${detail}`);
      assert.equal(counts.resets, 0, `responses cut mid-stream: ${detail}`);
      assert.equal(counts.truncated, 0, `SSE streams without a clean data: [DONE] end: ${detail}`);
      assert.equal(counts.badBodies, 0, `wrong JSON bodies: ${detail}`);
      assert.deepEqual(counts.clientErrors, {}, detail);
      assert.deepEqual(counts.statuses, { 200: REQUESTS });
      assert.equal(upstream.received.length, REQUESTS, 'every request reached the provider exactly once');
      assert.equal(upstream.abortedStreams, 0, 'Envoy never abandoned an upstream stream');

      assert.deepEqual(
        await activeStreams(service),
        { router: 0, upstream: 0 },
        'llm_extproc_active_streams back to 0',
      );
      // The failure mode this guards against: the service's HTTP/2 server closing Envoy's ext_proc connection (GOAWAY).
      assert.equal(
        await envoyCounter(service, 'cluster.llm-extproc.upstream_cx_close_notify'),
        0,
        'no GOAWAY from the service on the ext_proc connection',
      );

      // Settles can land a moment after the client has its last byte.
      type View = { metric: string; window: string; used: number; reserved: number };
      let views: View[] = [];
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
        views = ((await (await fetch(`${service.adminUrl}/budgets`)).json()) as { budgets: View[] }).budgets;
        if (views.every((v) => v.reserved === 0)) break;
      }
      assert.equal(
        views.reduce((sum, v) => sum + v.reserved, 0),
        0,
        'nothing stays reserved',
      );
      assert.equal(
        views.find((v) => v.metric === 'requests' && v.window === 'day')?.used,
        REQUESTS,
        'every request counted once',
      );
    },
  );
});
