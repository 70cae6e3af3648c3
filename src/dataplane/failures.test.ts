// Processor failures (timeout, gRPC error, clean close, spurious message) and the client going away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { byStage, continueFor, headersOf, passThrough } from './testing/fake-extproc.js';
import { jsonOk } from './testing/fake-upstream.js';
import { scenario, ROUTE_M } from './testing/scenario.js';
import { sleep } from './testing/answers.js';

const BODY = '{"model":"m"}';
const T = { timeout: 20_000 };

test('message_timeout on the router stage: 504 local reply and the gRPC stream is cancelled', T, async (t) => {
  const sc = await scenario({
    script: byStage({ router: async (s) => void (await s.expect('request_headers')) }),
    upstreams: { a: { handler: jsonOk('a') } },
    settings: { messageTimeoutMs: 150 },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 504);
  assert.equal(res.body, '');
  assert.equal((await sc.accessLogEntry(0)).responseCodeDetails, 'ext_proc_error_per-message_timeout_exceeded');
  const router = sc.extproc.streams[0];
  await Promise.race([router?.cancelled, sleep(2_000)]);
  assert.equal(router?.isCancelled, true);
  assert.equal(sc.upstreams.a?.requests.length, 0);
});

test(
  "message_timeout on the upstream stage: its 504 is the attempt's response (not retried) and passes the router stage",
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
        upstream: async (s) => void (await s.expect('request_headers')),
      }),
      upstreams: { p0: { handler: jsonOk('p0'), priority: 0 }, p1: { handler: jsonOk('p1'), priority: 1 } },
      settings: { messageTimeoutMs: 150 },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 504);
    const entry = await sc.accessLogEntry(0);
    assert.equal(entry.attempts.length, 1);
    assert.equal(routerSawStatus, '504');
  },
);

test('a gRPC error status is a 500 local reply (failure_mode_allow false)', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.fail(grpc.status.UNAVAILABLE, 'processor down');
      },
    }),
    upstreams: { a: { handler: jsonOk('a') } },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 500);
  // Envoy 1.40's details: grpc-message as received (grpc-js encodes it with encodeURI), then the side stream's details.
  assert.equal(
    (await sc.accessLogEntry(0)).responseCodeDetails,
    'ext_proc_error_gRPC_error_14{processor%20down{via_upstream}}',
  );
  assert.equal(sc.upstreams.a?.requests.length, 0);
});

test('a clean close by the processor: the request carries on without it', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.send({ request_headers: {} });
        s.end();
      },
    }),
    upstreams: { a: { handler: jsonOk('a') } },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 200);
  assert.equal(res.body, '{"served_by":"a"}');
  assert.equal(sc.upstreams.a?.requests[0]?.body.toString(), BODY);
  assert.deepEqual(
    sc.extproc.streams.find((s) => s.stage === 'router')?.received.map((m) => m.request),
    ['request_headers'],
  );
});

test(
  'an answer of the wrong type is a spurious message: 500 (Envoy ≥ 1.35 with failure_mode_allow false)',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ response_headers: {} });
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 500);
    assert.equal((await sc.accessLogEntry(0)).responseCodeDetails, 'spurious_message');
  },
);

test(
  'a message carrying override_message_timeout is ignored whole (no max_message_timeout configured)',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            override_message_timeout: { seconds: 5 },
            request_headers: { response: { clear_route_cache: true } },
          });
          s.send({ request_headers: {} });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    assert.equal((await sc.request({ body: BODY, headers: ROUTE_M })).status, 200);
    assert.ok(sc.events.some((e) => e.event === 'ext_proc_message_ignored'));
  },
);

test('a gRPC error after STREAMED response headers went out resets the client connection', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
        await s.expect('response_headers');
        s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
        await s.expect('response_body');
        s.fail(grpc.status.INTERNAL, 'boom');
      },
    }),
    upstreams: {
      a: {
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: 1\n\n');
          setTimeout(() => res.end(), 300);
        },
      },
    },
  });
  t.after(() => sc.close());
  await assert.rejects(sc.request({ body: BODY, headers: ROUTE_M }));
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCode, 200);
  assert.equal(entry.responseCodeDetails, 'ext_proc_error_gRPC_error_13{boom{via_upstream}}');
});

test('the client going away cancels both gRPC streams and the upstream request', T, async (t) => {
  let upstreamClosed = false;
  const sc = await scenario({
    script: passThrough,
    upstreams: {
      a: {
        handler: (_req, res) => {
          res.on('close', () => (upstreamClosed = true));
        },
      },
    },
  });
  t.after(() => sc.close());
  const req = http.request({
    host: '127.0.0.1',
    port: sc.dataPlane.port,
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { ...ROUTE_M, 'content-length': String(BODY.length) },
  });
  req.on('error', () => {});
  req.end(BODY);
  for (let i = 0; i < 100 && (sc.upstreams.a?.requests.length ?? 0) === 0; i++) await sleep(20);
  assert.equal(sc.upstreams.a?.requests.length, 1);
  req.destroy();
  const streams = await sc.extproc.waitForStreams(2);
  await Promise.race([Promise.all(streams.map((s) => s.cancelled)), sleep(3_000)]);
  assert.deepEqual(
    streams.map((s) => [s.stage, s.isCancelled]),
    [
      ['router', true],
      ['upstream', true],
    ],
  );
  for (let i = 0; i < 100 && !upstreamClosed; i++) await sleep(20);
  assert.equal(upstreamClosed, true);
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCode, 0);
  assert.equal(entry.responseCodeDetails, 'downstream_remote_disconnect');
  assert.deepEqual(
    entry.attempts.map((a) => [a.backend, a.outcome]),
    [['a', 'downstream_remote_disconnect']],
  );
});
