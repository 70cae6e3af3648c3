// The upstream stage (one Process stream per attempt), endpoint choice, retries and the route timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND_ATTRIBUTE, EXT_PROC_FILTER_NAME, ROUTE_HEADER } from '../extproc/contract.js';
import { byStage, continueFor, headersOf, passThrough, type ScriptedStream } from './testing/fake-extproc.js';
import { deadUrl, jsonOk, status } from './testing/fake-upstream.js';
import { scenario, ROUTE_M } from './testing/scenario.js';
import { headerMutation, sleep } from './testing/answers.js';

const BODY = '{"model":"m"}';
const T = { timeout: 20_000 };

function backendAttribute(stream: ScriptedStream | undefined): string | undefined {
  return stream?.received[0]?.attributes?.[EXT_PROC_FILTER_NAME]?.fields?.[BACKEND_ATTRIBUTE]?.stringValue;
}

test(
  'upstream stage: request_headers carry the chosen backend as an attribute and the client :authority (host rewritten after it); its :path picks the upstream path',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        upstream: async (s) => {
          const h = await s.expect('request_headers');
          // Provider rewrite: the backend's base path goes in front.
          s.send({
            request_headers: {
              response: {
                header_mutation: headerMutation({ ':path': '/openai/chat/completions', authorization: 'Bearer k' }),
              },
            },
          });
          const b = await s.expect('request_body');
          assert.equal(b.request_body?.body?.toString(), BODY);
          s.send(continueFor(b));
          const r = await s.expect('response_headers');
          assert.equal(headersOf(r.response_headers?.headers)[':status'], '200');
          s.send({
            response_headers: { response: { header_mutation: headerMutation({ 'x-llm-extproc-backend': 'a' }) } },
          });
          assert.equal(headersOf(h.request_headers?.headers)[':path'], '/v1/chat/completions');
        },
      }),
      upstreams: { a: { handler: jsonOk('a'), basePath: '/openai' } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-llm-extproc-backend'], 'a');
    const upstreamStages = sc.extproc.streams.filter((s) => s.stage === 'upstream');
    assert.equal(upstreamStages.length, 1);
    assert.equal(backendAttribute(upstreamStages[0]), 'a');
    const host = new URL(sc.upstreams.a?.url ?? '').host;
    // auto_host_rewrite happens when the connection is ready, after the upstream filters (Envoy 1.40).
    assert.equal(
      headersOf(upstreamStages[0]?.received[0]?.request_headers?.headers)[':authority'],
      `127.0.0.1:${sc.dataPlane.port}`,
    );
    const seen = sc.upstreams.a?.requests[0];
    assert.equal(seen?.url, '/openai/chat/completions');
    assert.equal(seen?.headers.host, host);
    assert.equal(seen?.headers.authorization, 'Bearer k');
    assert.equal(seen?.body.toString(), BODY);
  },
);

test(
  'a retriable status moves to the next priority; the upstream stage runs again on a fresh stream per attempt',
  T,
  async (t) => {
    const sc = await scenario({
      script: passThrough,
      upstreams: { p0: { handler: status(503, 'busy'), priority: 0 }, p1: { handler: jsonOk('p1'), priority: 1 } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 200);
    assert.equal(res.body, '{"served_by":"p1"}');
    const entry = await sc.accessLogEntry(0);
    assert.deepEqual(
      entry.attempts.map((a) => [a.backend, a.priority, a.outcome]),
      [
        ['p0', 0, '503'],
        ['p1', 1, '200'],
      ],
    );
    assert.equal(entry.upstreamBackend, 'p1');
    assert.equal(sc.extproc.streams.filter((s) => s.stage === 'router').length, 1);
    const upstreamStages = sc.extproc.streams.filter((s) => s.stage === 'upstream');
    assert.deepEqual(upstreamStages.map(backendAttribute), ['p0', 'p1']);
    for (const s of upstreamStages)
      assert.deepEqual(
        s.received.map((m) => m.request),
        ['request_headers', 'request_body', 'response_headers'],
      );
    assert.equal(sc.upstreams.p0?.requests[0]?.body.toString(), BODY);
    assert.equal(sc.upstreams.p1?.requests[0]?.body.toString(), BODY);
  },
);

test('a connect failure is retried on the next priority', T, async (t) => {
  const sc = await scenario({
    script: passThrough,
    upstreams: { p1: { handler: jsonOk('p1'), priority: 1 } },
    extraBackends: [{ name: 'p0', baseUrl: deadUrl(), priority: 0 }],
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 200);
  const entry = await sc.accessLogEntry(0);
  assert.deepEqual(
    entry.attempts.map((a) => [a.backend, a.outcome]),
    [
      ['p0', 'connection_failure'],
      ['p1', '200'],
    ],
  );
});

test('retries exhausted: the last retriable upstream response goes to the client', T, async (t) => {
  const sc = await scenario({
    script: passThrough,
    upstreams: {
      p0: { handler: status(503, 'p0 busy'), priority: 0 },
      p1: { handler: status(429, 'p1 busy'), priority: 1 },
    },
    settings: { numRetries: 1 },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 429);
  assert.equal(res.body, 'p1 busy');
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCodeDetails, 'via_upstream');
  assert.equal(entry.attempts.length, 2);
});

test(
  'a disabled backend is unhealthy: skipped; a route with no healthy endpoint answers 503 through the router stage',
  T,
  async (t) => {
    let routerSawStatus: string | undefined;
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          for (;;) {
            const m = await s.next(30_000);
            if (m.request === 'response_headers') routerSawStatus = headersOf(m.response_headers?.headers)[':status'];
            s.send(continueFor(m));
          }
        },
      }),
      upstreams: {
        off: { handler: jsonOk('off'), disabled: true, priority: 0 },
        p1: { handler: jsonOk('p1'), priority: 1 },
      },
      routes: [
        { model: 'm', backends: [{ backend: 'off' }, { backend: 'p1' }] },
        { model: 'dead', backends: [{ backend: 'off' }] },
      ],
    });
    t.after(() => sc.close());
    const ok = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(ok.body, '{"served_by":"p1"}');
    assert.deepEqual(
      (await sc.accessLogEntry(0)).attempts.map((a) => a.backend),
      ['p1'],
    );
    const dead = await sc.request({ body: BODY, headers: { [ROUTE_HEADER]: 'llm.dead' } });
    assert.equal(dead.status, 503);
    assert.equal(dead.body, 'no healthy upstream');
    const entry = await sc.accessLogEntry(1);
    assert.equal(entry.responseCodeDetails, 'no_healthy_upstream');
    assert.equal(routerSawStatus, '503');
    assert.equal(sc.upstreams.off?.requests.length, 0);
  },
);

test(
  'upstream-stage header changes persist into the next attempt (Envoy shares the request header map)',
  T,
  async (t) => {
    let attempt = 0;
    const seenPaths: string[] = [];
    const sc = await scenario({
      script: byStage({
        upstream: async (s) => {
          const h = await s.expect('request_headers');
          attempt += 1;
          const headers = headersOf(h.request_headers?.headers);
          seenPaths.push(`${headers[':path']} ${headers['x-attempt'] ?? '-'}`);
          s.send({
            request_headers: {
              response: {
                header_mutation: headerMutation({ ':path': `/attempt-${attempt}`, 'x-attempt': String(attempt) }),
              },
            },
          });
          await passThrough(s);
        },
      }),
      upstreams: { p0: { handler: status(500), priority: 0 }, p1: { handler: jsonOk('p1'), priority: 1 } },
    });
    t.after(() => sc.close());
    assert.equal((await sc.request({ body: BODY, headers: ROUTE_M })).status, 200);
    assert.deepEqual(seenPaths, ['/v1/chat/completions -', '/attempt-1 1']);
    assert.equal(sc.upstreams.p1?.requests[0]?.url, '/attempt-2');
  },
);

test('clear_route_cache from the upstream stage is ignored', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      upstream: async (s) => {
        await s.expect('request_headers');
        s.send({
          request_headers: {
            response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.other' }), clear_route_cache: true },
          },
        });
        await passThrough(s);
      },
    }),
    upstreams: { a: { handler: jsonOk('a') }, b: { handler: jsonOk('b') } },
    routes: [
      { model: 'm', backends: [{ backend: 'a' }] },
      { model: 'other', backends: [{ backend: 'b' }] },
    ],
  });
  t.after(() => sc.close());
  assert.equal((await sc.request({ body: BODY, headers: ROUTE_M })).body, '{"served_by":"a"}');
  assert.ok(sc.events.some((e) => e.event === 'clear_route_cache_upstream_ignored'));
});

test(
  "an immediate_response from the upstream stage is that attempt's response: it passes the router stage, not retried (Envoy 1.40)",
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        upstream: async (s) => {
          await s.expect('request_headers');
          s.send({ immediate_response: { status: { code: 'Unauthorized' }, body: Buffer.from('no key') } });
        },
      }),
      upstreams: { p0: { handler: jsonOk('p0'), priority: 0 }, p1: { handler: jsonOk('p1'), priority: 1 } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 401);
    assert.equal(res.body, 'no key');
    const entry = await sc.accessLogEntry(0);
    assert.equal(entry.attempts.length, 1);
    assert.equal(sc.upstreams.p0?.requests.length, 0);
    assert.equal(sc.upstreams.p1?.requests.length, 0);
    const router = sc.extproc.streams.find((s) => s.stage === 'router');
    assert.deepEqual(
      router?.received.map((m) => m.request),
      ['request_headers', 'request_body', 'response_headers', 'response_body'],
    );
  },
);

test('the route timeout covers every attempt: 504, and the pending upstream request is abandoned', T, async (t) => {
  let hangingClosed = false;
  const sc = await scenario({
    script: passThrough,
    upstreams: {
      p0: {
        handler: async (_req, res) => {
          await sleep(150);
          res.writeHead(503).end();
        },
        priority: 0,
      },
      p1: {
        handler: (_req, res) => {
          res.on('close', () => (hangingClosed = true));
        },
        priority: 1,
      },
    },
    settings: { routeTimeoutMs: 400 },
  });
  t.after(() => sc.close());
  const started = Date.now();
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 504);
  assert.equal(res.body, 'upstream request timeout');
  assert.ok(Date.now() - started < 2_000);
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCodeDetails, 'response_timeout');
  assert.deepEqual(
    entry.attempts.map((a) => a.outcome),
    ['503', 'upstream_response_timeout'],
  );
  for (let i = 0; i < 50 && !hangingClosed; i++) await sleep(20);
  assert.equal(hangingClosed, true);
});
