// The router-level stage on the response path: BUFFERED, mode_override to STREAMED, local replies, metadata.
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METADATA_NAMESPACE, ROUTE_HEADER } from '../extproc/contract.js';
import { byStage, continueFor, headersOf, passThrough } from './testing/fake-extproc.js';
import { jsonOk, status } from './testing/fake-upstream.js';
import { scenario, ROUTE_M } from './testing/scenario.js';
import { headerMutation, replaceBody } from './testing/answers.js';
import { jsonToStruct } from './metadata.js';

const BODY = '{"model":"m"}';
const T = { timeout: 20_000 };

test(
  'BUFFERED response: :status in response_headers, one response_body; status, header and body mutations applied',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ request_headers: {} });
          await s.expect('request_body');
          s.send({ request_body: {} });
          const headers = await s.expect('response_headers');
          assert.equal(headersOf(headers.response_headers?.headers)[':status'], '200');
          s.send({
            response_headers: {
              response: { header_mutation: headerMutation({ ':status': '201', 'x-seen': 'headers' }) },
            },
          });
          const body = await s.expect('response_body');
          assert.equal(body.response_body?.end_of_stream, true);
          s.send({
            response_body: {
              response: {
                header_mutation: headerMutation({ 'content-length': '9', 'x-body': 'yes' }),
                body_mutation: replaceBody('rewritten'),
              },
            },
            // Ignored: mode_override is only honoured on header responses.
            mode_override: { response_body_mode: 'STREAMED' },
          });
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 201);
    assert.equal(res.headers['x-seen'], 'headers');
    assert.equal(res.headers['x-body'], 'yes');
    assert.equal(res.headers['content-length'], '9');
    assert.equal(res.body, 'rewritten');
    assert.ok(sc.events.some((e) => e.event === 'mode_override_ignored'));
  },
);

test(
  'mode_override to STREAMED: each upstream chunk is sent as it arrives, answered in order, mutated per chunk',
  T,
  async (t) => {
    const seen: Array<{ body: string; eos: boolean }> = [];
    const chunkSeen: Array<() => void> = [];
    const waitSeen = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (seen.length >= n ? resolve() : chunkSeen.push(check));
        check();
      });
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
          await s.expect('response_headers');
          s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
          for (;;) {
            const m = await s.expect('response_body');
            const text = m.response_body?.body?.toString() ?? '';
            const eos = m.response_body?.end_of_stream ?? false;
            seen.push({ body: text, eos });
            for (const w of chunkSeen.splice(0)) w();
            s.send({
              response_body: {
                response: {
                  body_mutation: replaceBody(eos ? '[DONE]' : text.toUpperCase()),
                  // Ignored: header mutations do not apply to STREAMED body responses.
                  header_mutation: headerMutation({ 'x-late': '1' }),
                },
              },
            });
            if (eos) break;
          }
        },
      }),
      upstreams: {
        a: {
          handler: async (_req, res) => {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            // Each chunk goes out only after the processor has seen the previous one: proof of streaming.
            for (const [i, piece] of ['one', 'two', 'three'].entries()) {
              res.write(piece);
              await waitSeen(i + 1);
            }
            res.end();
          },
        },
      },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ONETWOTHREE[DONE]');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers['x-late'], undefined);
    assert.deepEqual(seen, [
      { body: 'one', eos: false },
      { body: 'two', eos: false },
      { body: 'three', eos: false },
      { body: '', eos: true },
    ]);
  },
);

test(
  'after a mode_override to STREAMED the upstream content-length stays (Envoy strips it only for the configured mode)',
  T,
  async (t) => {
    const streamedUpper = (removeContentLength: boolean) =>
      byStage({
        router: async (s) => {
          for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
          await s.expect('response_headers');
          s.send({
            response_headers: removeContentLength
              ? { response: { header_mutation: headerMutation({}, ['content-length']) } }
              : {},
            mode_override: { response_body_mode: 'STREAMED' },
          });
          for (;;) {
            const m = await s.expect('response_body');
            s.send({
              response_body: {
                response: { body_mutation: replaceBody(`${m.response_body?.body?.toString() ?? ''}!`) },
              },
            });
            if (m.response_body?.end_of_stream === true) break;
          }
        },
      });
    const kept = await scenario({ script: streamedUpper(false), upstreams: { a: { handler: jsonOk('a') } } });
    try {
      await assert.rejects(kept.request({ body: BODY, headers: ROUTE_M }));
      assert.equal((await kept.accessLogEntry(0)).responseCodeDetails, 'downstream_content_length_mismatch');
    } finally {
      await kept.close();
    }
    const removed = await scenario({ script: streamedUpper(true), upstreams: { a: { handler: jsonOk('a') } } });
    t.after(() => removed.close());
    const res = await removed.request({ body: BODY, headers: ROUTE_M });
    // One chunk that ends the body (content-length upstream): one answer.
    assert.equal(res.body, '{"served_by":"a"}!');
    assert.equal(res.headers['content-length'], undefined);
  },
);

test('a BUFFERED response body over the buffer limit is a 500 local reply', T, async (t) => {
  const sc = await scenario({
    script: passThrough,
    upstreams: { a: { handler: status(200, 'x'.repeat(100)) } },
    settings: { bufferLimitBytes: 32 },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 500);
  assert.equal(res.body, 'Internal Server Error');
  assert.equal((await sc.accessLogEntry(0)).responseCodeDetails, 'response_payload_too_large');
});

test('immediate_response on response headers replaces the upstream response', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
        await s.expect('response_headers');
        s.send({
          immediate_response: {
            status: { code: 'ServiceUnavailable' },
            headers: headerMutation({ 'content-type': 'application/json' }),
            body: Buffer.from('{"error":{}}'),
            details: 'provider_error',
          },
        });
      },
    }),
    upstreams: { a: { handler: status(500, 'upstream exploded') } },
    settings: { numRetries: 0 },
  });
  t.after(() => sc.close());
  const res = await sc.request({ body: BODY, headers: ROUTE_M });
  assert.equal(res.status, 503);
  assert.equal(res.body, '{"error":{}}');
  assert.equal((await sc.accessLogEntry(0)).responseCodeDetails, 'provider_error');
});

test('immediate_response after STREAMED headers went out resets the client connection', T, async (t) => {
  const sc = await scenario({
    script: byStage({
      router: async (s) => {
        for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
        await s.expect('response_headers');
        s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
        await s.expect('response_body');
        s.send({ immediate_response: { status: { code: 'BadGateway' }, details: 'too late' } });
      },
    }),
    upstreams: {
      a: {
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: 1\n\n');
          setTimeout(() => res.end(), 200);
        },
      },
    },
  });
  t.after(() => sc.close());
  await assert.rejects(sc.request({ body: BODY, headers: ROUTE_M }));
  const entry = await sc.accessLogEntry(0);
  assert.equal(entry.responseCode, 200);
  assert.equal(entry.responseCodeDetails, 'too_late');
});

test(
  'router-level local replies pass through the router stage (catch-all 404 rewritten with CONTINUE_AND_REPLACE)',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
          const h = await s.expect('response_headers');
          assert.equal(headersOf(h.response_headers?.headers)[':status'], '404');
          // The catch-all carries the generated bootstrap's JSON body: a body follows.
          assert.equal(h.response_headers?.end_of_stream, false);
          s.send({
            response_headers: {
              response: {
                status: 'CONTINUE_AND_REPLACE',
                header_mutation: headerMutation({ 'content-type': 'application/json' }),
                body_mutation: replaceBody('{"error":{"code":"model_not_found"}}'),
              },
            },
          });
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: { [ROUTE_HEADER]: 'llm.unknown' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.body, '{"error":{"code":"model_not_found"}}');
    const entry = await sc.accessLogEntry(0);
    assert.equal(entry.responseCodeDetails, 'direct_response');
    assert.equal(entry.route, undefined);
  },
);

test(
  'dynamic metadata: only namespace llm-extproc is kept, merged across messages and stages, in the access log',
  T,
  async (t) => {
    const sc = await scenario({
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            request_headers: {},
            dynamic_metadata: jsonToStruct({
              [METADATA_NAMESPACE]: { caller: 'team-a', tokens: 0 },
              'other.ns': { secret: 'x' },
            }),
          });
          await s.expect('request_body');
          s.send({ request_body: {} });
          await s.expect('response_headers');
          s.send({ response_headers: {} });
          await s.expect('response_body');
          s.send({ response_body: {}, dynamic_metadata: jsonToStruct({ [METADATA_NAMESPACE]: { tokens: 42 } }) });
        },
        upstream: async (s) => {
          await s.expect('request_headers');
          s.send({
            request_headers: {},
            dynamic_metadata: jsonToStruct({ [METADATA_NAMESPACE]: { provider: 'openai' } }),
          });
          await passThrough(s);
        },
      }),
      upstreams: { a: { handler: jsonOk('a') } },
    });
    t.after(() => sc.close());
    assert.equal((await sc.request({ body: BODY, headers: ROUTE_M })).status, 200);
    const entry = await sc.accessLogEntry(0);
    // The upstream stage's metadata lands in the same (request) namespace, as in Envoy 1.40.
    assert.deepEqual(entry.dynamicMetadata, {
      [METADATA_NAMESPACE]: { caller: 'team-a', tokens: 42, provider: 'openai' },
    });
    assert.ok(sc.events.some((e) => e.event === 'dynamic_metadata_namespace_ignored'));
  },
);

test(
  'route timeout while the BUFFERED router stage holds the response: 504 goes out directly, bypassing the filters',
  T,
  async (t) => {
    const sc = await scenario({
      script: passThrough,
      upstreams: {
        a: {
          handler: (_req, res) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.write('{"partial":');
          },
        },
      },
      settings: { routeTimeoutMs: 300 },
    });
    t.after(() => sc.close());
    const res = await sc.request({ body: BODY, headers: ROUTE_M });
    assert.equal(res.status, 504);
    assert.equal(res.body, 'upstream request timeout');
    assert.equal((await sc.accessLogEntry(0)).responseCodeDetails, 'response_timeout');
    const router = sc.extproc.streams.find((s) => s.stage === 'router');
    assert.deepEqual(
      router?.received.map((m) => m.request),
      ['request_headers', 'request_body', 'response_headers'],
    );
  },
);

test(
  'upstream reset mid-body: 502 local reply (protocol error) while BUFFERED holds the headers, a client reset once STREAMED headers went out',
  T,
  async (t) => {
    const resetting = {
      handler: (_req: unknown, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.socket?.destroy(), 50);
      },
    };
    const buffered = await scenario({ script: passThrough, upstreams: { a: resetting } });
    try {
      const res = await buffered.request({ body: BODY, headers: ROUTE_M });
      assert.equal(res.status, 502);
      assert.equal(
        (await buffered.accessLogEntry(0)).responseCodeDetails,
        'upstream_reset_after_response_started{protocol_error}',
      );
    } finally {
      await buffered.close();
    }
    const streamed = await scenario({
      script: byStage({
        router: async (s) => {
          for (const kind of ['request_headers', 'request_body'] as const) s.send(continueFor(await s.expect(kind)));
          await s.expect('response_headers');
          s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
          await passThrough(s);
        },
      }),
      upstreams: { a: resetting },
    });
    t.after(() => streamed.close());
    await assert.rejects(streamed.request({ body: BODY, headers: ROUTE_M }));
    const entry = await streamed.accessLogEntry(0);
    assert.equal(entry.responseCode, 200);
    assert.equal(entry.responseCodeDetails, 'upstream_reset_after_response_started{protocol_error}');
  },
);
