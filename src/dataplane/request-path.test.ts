// The router-level stage on the request path, driven over real gRPC against a scripted processor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTE_HEADER } from '../extproc/contract.js';
import { headerNames, headersOf, passThrough, byStage } from './testing/fake-extproc.js';
import { jsonOk } from './testing/fake-upstream.js';
import { scenario, ROUTE_M } from './testing/scenario.js';
import { headerMutation, replaceBody } from './testing/answers.js';

const BODY = '{"model":"m","messages":[]}';
const T = { timeout: 20_000 };

test(
  'router stage: one stream with stage metadata; request_headers, request_body, response_headers, response_body in order',
  T,
  async (t) => {
    const sc = await scenario({ script: passThrough, upstreams: { a: { handler: jsonOk('a') } } });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 200);
    assert.equal(res.body, '{"served_by":"a"}');
    await sc.accessLogEntry(0);
    const router = sc.extproc.streams.filter((s) => s.stage === 'router');
    assert.equal(router.length, 1);
    const messages = router[0]?.received ?? [];
    assert.deepEqual(
      messages.map((m) => m.request),
      ['request_headers', 'request_body', 'response_headers', 'response_body'],
    );
    const [rh, rb, sh, sb] = messages;
    assert.deepEqual(headerNames(rh?.request_headers?.headers).slice(0, 4), [
      ':authority',
      ':path',
      ':method',
      ':scheme',
    ]);
    const requestHeaders = headersOf(rh?.request_headers?.headers);
    assert.equal(requestHeaders[':path'], '/v1/chat/completions');
    assert.equal(requestHeaders[':method'], 'POST');
    assert.match(requestHeaders['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(rh?.request_headers?.end_of_stream ?? false, false);
    assert.equal(rb?.request_body?.body?.toString(), BODY);
    assert.equal(rb?.request_body?.end_of_stream, true);
    assert.equal(headersOf(sh?.response_headers?.headers)[':status'], '200');
    assert.equal(sb?.response_body?.body?.toString(), '{"served_by":"a"}');
    assert.equal(sb?.response_body?.end_of_stream, true);
    // The data plane closed the stream at the end of the request (half-close, then reset).
    await router[0]?.cancelled;
  },
);

test(
  'a request without a body: request_headers end_of_stream true, no request_body; a client x-request-id is replaced (edge)',
  T,
  async (t) => {
    const sc = await scenario({ script: passThrough, upstreams: { a: { handler: jsonOk('a') } } });
    t.after(() => sc.close());
    const res = await sc.request({
      method: 'GET',
      path: '/v1/models',
      headers: { [ROUTE_HEADER]: 'llm.m', 'x-request-id': 'client-id-1' },
    });
    assert.equal(res.status, 200);
    const entry = await sc.accessLogEntry(0);
    // Envoy 1.40 as an edge proxy (use_remote_address) regenerates the id of a request from outside.
    assert.notEqual(entry.requestId, 'client-id-1');
    assert.match(entry.requestId, /^[0-9a-f-]{36}$/);
    const router = sc.extproc.streams.find((s) => s.stage === 'router');
    assert.deepEqual(
      router?.received.map((m) => m.request),
      ['request_headers', 'response_headers', 'response_body'],
    );
    assert.equal(router?.received[0]?.request_headers?.end_of_stream, true);
    assert.equal(sc.upstreams.a?.requests[0]?.headers['x-request-id'], entry.requestId);
  },
);

test(
  'header mutation rules: :path rewritten; host, :authority, :method, :scheme, x-envoy-* and pseudo-header removals ignored',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            request_headers: {
              response: {
                header_mutation: headerMutation(
                  {
                    ':path': '/rewritten?x=1',
                    ':authority': 'evil.example',
                    host: 'evil.example',
                    ':method': 'DELETE',
                    ':scheme': 'https',
                    'x-envoy-retry-on': '5xx',
                    'x-added': 'yes',
                  },
                  [':path', 'host', 'x-drop-me'],
                ),
              },
            },
          });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: { ...ROUTE_M, 'x-drop-me': '1' } });
    assert.equal(res.status, 200);
    const seen = sc.upstreams.a?.requests[0];
    assert.equal(seen?.url, '/rewritten?x=1');
    assert.equal(seen?.method, 'POST');
    assert.equal(seen?.headers['x-added'], 'yes');
    assert.equal(seen?.headers['x-drop-me'], undefined);
    assert.equal(seen?.headers['x-envoy-retry-on'], undefined);
    assert.ok(sc.events.some((e) => e.event === 'header_mutation_ignored'));
  },
);

test('clear_route_cache with a header_mutation in the same response re-routes on the new header', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.send({ request_headers: {} });
        await s.expect('request_body');
        // Like the real router stage: the model is in the body, so route on it now.
        s.send({
          request_body: {
            response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.b-model' }), clear_route_cache: true },
          },
        });
        await passThrough(s);
      },
    }),
    upstreams: { a: { handler: jsonOk('a') }, b: { handler: jsonOk('b') } },
    routes: [
      { model: 'a-model', backends: [{ backend: 'a' }] },
      { model: 'b-model', backends: [{ backend: 'b' }] },
    ],
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY });
  assert.equal(res.status, 200);
  assert.equal(res.body, '{"served_by":"b"}');
  assert.equal((await sc.accessLogEntry(0)).route, 'llm.b-model');
});

test(
  'without a header_mutation in the same response, clear_route_cache is ignored and the first route stays',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          // Changes the routing header but does not clear the route cache: the route stays.
          s.send({
            request_headers: { response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.b-model' }) } },
          });
          await s.expect('request_body');
          // Clears the route cache without a header_mutation: ignored (clear_route_cache_ignored).
          s.send({ request_body: { response: { clear_route_cache: true } } });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') }, b: { handler: jsonOk('b') } },
      routes: [
        { model: 'a-model', backends: [{ backend: 'a' }] },
        { model: 'b-model', backends: [{ backend: 'b' }] },
      ],
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: { [ROUTE_HEADER]: 'llm.a-model' } });
    assert.equal(res.body, '{"served_by":"a"}');
    assert.equal(sc.upstreams.a?.requests[0]?.headers[ROUTE_HEADER], 'llm.b-model');
    assert.ok(sc.events.some((e) => e.event === 'clear_route_cache_ignored'));
  },
);

test('413 when the BUFFERED request body is over the buffer limit; the body is never sent', T, async (t) => {
  const sc = await scenario({
    script: passThrough,
    upstreams: { a: { handler: jsonOk('a') } },
    settings: { bufferLimitBytes: 16 },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: 'x'.repeat(17), headers: ROUTE_M });
  assert.equal(res.status, 413);
  assert.equal(res.body, 'Payload Too Large');
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCodeDetails, 'request_payload_too_large');
  // The 413 passes the router stage's response path, as Envoy's does.
  assert.deepEqual(
    sc.extproc.streams[0]?.received.map((m) => m.request),
    ['request_headers', 'response_headers', 'response_body'],
  );
  assert.equal(sc.upstreams.a?.requests.length, 0);
});

test('a body mutation that disagrees with the held content-length is a 500 local reply', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.send({ request_headers: {} });
        await s.expect('request_body');
        s.send({ request_body: { response: { body_mutation: replaceBody('a different length') } } });
      },
    }),
    upstreams: { a: { handler: jsonOk('a') } },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 500);
  assert.equal(res.body, '');
  assert.equal(
    (await sc.accessLogEntry(0)).responseCodeDetails,
    'mismatch_between_content_length_and_the_length_of_the_mutated_body',
  );
  assert.equal(sc.upstreams.a?.requests.length, 0);
});

test(
  'a body mutation with content-length set to match in the same response goes upstream; without content-length one is added',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ request_headers: {} });
          await s.expect('request_body');
          s.send({
            request_body: {
              response: {
                header_mutation: headerMutation({ 'content-length': '7' }),
                body_mutation: replaceBody('changed'),
              },
            },
          });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    assert.equal((await sc.request({ body: BODY, headers: ROUTE_M })).status, 200);
    assert.equal(sc.upstreams.a?.requests[0]?.body.toString(), 'changed');
    assert.equal(sc.upstreams.a?.requests[0]?.headers['content-length'], '7');
    // Chunked client body (no content-length): the mutated body is framed with a fresh content-length.
    assert.equal((await sc.request({ chunkedBody: ['{"model":', '"m"}'], headers: ROUTE_M })).status, 200);
    assert.equal(sc.upstreams.a?.requests[1]?.body.toString(), 'changed');
    assert.equal(sc.upstreams.a?.requests[1]?.headers['content-length'], '7');
  },
);

test(
  'CONTINUE_AND_REPLACE on request headers replaces the body, drops content-length and sends no request_body',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            request_headers: {
              response: { status: 'CONTINUE_AND_REPLACE', body_mutation: replaceBody('{"replaced":true}') },
            },
          });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    assert.equal((await sc.request({ body: BODY, headers: ROUTE_M })).status, 200);
    await sc.accessLogEntry(0);
    assert.equal(sc.upstreams.a?.requests[0]?.body.toString(), '{"replaced":true}');
    const router = sc.extproc.streams.find((s) => s.stage === 'router');
    assert.deepEqual(
      router?.received.map((m) => m.request),
      ['request_headers', 'response_headers', 'response_body'],
    );
    const upstreamStage = sc.extproc.streams.find((s) => s.stage === 'upstream');
    const upstreamHeaders = headersOf(upstreamStage?.received[0]?.request_headers?.headers);
    assert.equal(upstreamHeaders['content-length'], undefined);
    assert.equal(upstreamStage?.received[1]?.request_body?.body?.toString(), '{"replaced":true}');
  },
);

test('immediate_response on request headers answers the client; nothing goes upstream', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.send({
          immediate_response: {
            status: { code: 'TooManyRequests' },
            headers: headerMutation({ 'content-type': 'application/json', 'retry-after': '3', 'x-envoy-nope': '1' }),
            body: Buffer.from('{"error":{"type":"rate_limit_error"}}'),
            details: 'budget exceeded',
          },
        });
      },
    }),
    upstreams: { a: { handler: jsonOk('a') } },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 429);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers['retry-after'], '3');
  assert.equal(res.headers['x-envoy-nope'], undefined);
  assert.equal(res.body, '{"error":{"type":"rate_limit_error"}}');
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCodeDetails, 'budget_exceeded');
  assert.equal(sc.upstreams.a?.requests.length, 0);
  assert.equal(sc.extproc.streams.filter((s) => s.stage === 'upstream').length, 0);
});

test('immediate_response on the request body answers the client', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.send({ request_headers: {} });
        await s.expect('request_body');
        s.send({ immediate_response: { status: { code: 'BadRequest' }, body: Buffer.from('bad model') } });
      },
    }),
    upstreams: { a: { handler: jsonOk('a') } },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 400);
  assert.equal(res.body, 'bad model');
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(sc.upstreams.a?.requests.length, 0);
});

test(
  'a mode_override on request_headers is read literally for both directions: unset request_body_mode means NONE',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ request_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 200);
    assert.equal(sc.upstreams.a?.requests[0]?.body.toString(), BODY);
    await sc.accessLogEntry(0);
    const router = sc.extproc.streams.find((s) => s.stage === 'router');
    // No request_body (NONE); the response body streamed: the upstream's only chunk, which ends the body, carries
    // end_of_stream (content-length upstream, as Envoy marks the last data frame).
    assert.deepEqual(
      router?.received.map((m) => m.request),
      ['request_headers', 'response_headers', 'response_body'],
    );
    assert.equal(router?.received[2]?.response_body?.end_of_stream, true);
    // STREAMED was in force when the response headers passed, so content-length went.
    assert.equal(res.headers['content-length'], undefined);
  },
);
