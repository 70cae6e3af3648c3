// Parity with real Envoy 1.40 — docs/dataplane.md "Routing, endpoints, retries": the route table and its catch-all,
// router local replies through the router stage, auto_host_rewrite, health and priorities, retries and the retry
// plugins, the route timeout, upstream resets, and the upstream stage's immediate_response.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { BACKEND_ATTRIBUTE } from '../../extproc/contract.js';
import { CATCH_ALL_ROUTE } from '../filters.js';
import { headerMutation, replaceBody } from '../testing/answers.js';
import {
  backendAttributes,
  byStage,
  continueThrough,
  passThrough,
  PARITY_HOST,
  sleep,
  startBench,
  statusReply,
  type Bench,
  type Via,
} from './harness.js';
import { assertAgree, assertScriptsClean, forBoth, kinds } from './expect.js';

const T = { timeout: 30_000 };
const ROUTE_TIMEOUT_MS = 800;

let bench: Bench;
before(async () => {
  bench = await startBench({
    backends: {
      a: {},
      p0: { priority: 0 },
      p1: { priority: 1 },
      h0a: { priority: 0 },
      h0b: { priority: 0 },
      dead: { priority: 0, url: 'http://127.0.0.1:1' },
      off: { priority: 0, disabled: true },
    },
    routes: {
      'no-healthy': { backends: [{ backend: 'off' }] },
      'half-disabled': {
        backends: [
          { backend: 'off', priority: 0 },
          { backend: 'p1', priority: 1 },
        ],
      },
      host: { backends: [{ backend: 'a' }] },
      exhausted: { backends: [{ backend: 'p0' }, { backend: 'p1' }] },
      hosts: { backends: [{ backend: 'h0a' }, { backend: 'h0b' }] },
      'connect-failure': { backends: [{ backend: 'dead' }, { backend: 'p1' }] },
      persist: { backends: [{ backend: 'p0' }, { backend: 'p1' }] },
      'route-timeout': { backends: [{ backend: 'p0' }, { backend: 'p1' }] },
      'timeout-held': { backends: [{ backend: 'a' }] },
      'reset-buffered': { backends: [{ backend: 'a' }] },
      'reset-streamed': { backends: [{ backend: 'a' }] },
      'upstream-immediate': { backends: [{ backend: 'p0' }, { backend: 'p1' }] },
    },
    settings: { routeTimeoutMs: ROUTE_TIMEOUT_MS },
  });
});
after(async () => bench?.close());

const CATCH_ALL_BODY = CATCH_ALL_ROUTE.direct_response.body.inline_string;

test(
  "no route header: the catch-all direct_response 404 with the generated bootstrap's JSON body; it passes the router stage",
  T,
  async () => {
    const pair = await bench.both({ routeHeader: null, script: passThrough });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.client.headers['content-type'], o.log?.details],
        [404, CATCH_ALL_BODY, 'application/json', 'direct_response'],
      );
      assert.deepEqual(kinds(o), ['router: request_headers request_body* response_headers response_body*']);
    });
  },
);

test(
  'router-level local replies pass the router stage: the catch-all 404 rewritten with CONTINUE_AND_REPLACE (the client gets the new body chunked)',
  T,
  async () => {
    const pair = await bench.both({
      routeHeader: 'llm.unknown',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers', 'request_body']);
          await s.expect('response_headers');
          s.send({
            response_headers: {
              response: {
                status: 'CONTINUE_AND_REPLACE',
                header_mutation: headerMutation({ 'x-rewritten': '1' }),
                body_mutation: replaceBody('{"error":{"code":"model_not_found"}}'),
              },
            },
          });
        },
      }),
    });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.client.headers['x-rewritten'], o.client.headers['content-length']],
        [404, '{"error":{"code":"model_not_found"}}', '1', undefined],
      );
      assert.equal(o.extproc[0]?.messages[2]?.headers?.['content-length'], String(CATCH_ALL_BODY.length));
    });
  },
);

test(
  'a route whose only backend is disabled: 503 no healthy upstream (no_healthy_upstream), through the router stage; a disabled backend is skipped for the next priority',
  T,
  async () => {
    const dead = await bench.both({ model: 'no-healthy', script: passThrough });
    assertAgree(dead);
    forBoth(dead, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.log?.details],
        [503, 'no healthy upstream', 'no_healthy_upstream'],
      );
      assert.deepEqual(kinds(o), ['router: request_headers request_body* response_headers response_body*']);
    });
    const half = await bench.both({ model: 'half-disabled', script: passThrough });
    assertAgree(half);
    forBoth(half, (o) =>
      assert.deepEqual(
        o.upstream.map((u) => u.upstream),
        ['p1'],
      ),
    );
  },
);

test(
  "auto_host_rewrite happens when the connection pool is ready: the upstream stage sees the client's :authority on a new connection and the endpoint's on a pooled one; the upstream always gets the endpoint's host",
  T,
  async () => {
    const seen: string[] = [];
    for (const pool of ['new connection', 'pooled connection']) {
      const pair = await bench.both({ model: 'host', script: passThrough });
      assertAgree(pair);
      const host = pair.envoy.upstream[0]?.headers.host ?? '';
      forBoth(pair, (o) => {
        assert.equal(o.upstream[0]?.headers.host, host);
        seen.push(
          `${o.via} ${pool}: ${o.extproc[1]?.messages[0]?.headers?.[':authority'] === host ? 'endpoint' : o.extproc[1]?.messages[0]?.headers?.[':authority']}`,
        );
      });
    }
    assert.deepEqual(seen, [
      `stand-in new connection: ${PARITY_HOST}`,
      `envoy new connection: ${PARITY_HOST}`,
      'stand-in pooled connection: endpoint',
      'envoy pooled connection: endpoint',
    ]);
  },
);

test(
  'retry_on retriable-status-codes with previous_priorities: p0 → p1 → p0 (priorities start over), a fresh upstream stage each time; when retries run out the last response goes to the client',
  T,
  async () => {
    const pair = await bench.both({
      model: 'exhausted',
      script: passThrough,
      upstreams: { p0: statusReply(503, 'p0 busy'), p1: statusReply(429, 'p1 busy') },
    });
    assertAgree(pair, { except: ['log.attempts'] });
    forBoth(pair, (o) => {
      assert.deepEqual([o.client.status, o.client.body, o.log?.details], [503, 'p0 busy', 'via_upstream']);
      assert.deepEqual(
        o.upstream.map((u) => u.upstream),
        ['p0', 'p1', 'p0'],
      );
      assert.deepEqual(backendAttributes(o, BACKEND_ATTRIBUTE), ['p0', 'p1', 'p0']);
      assert.deepEqual(
        o.log?.attempts.map((a) => `${a.backend}:${a.outcome}`),
        ['p0:503', 'p1:429', 'p0:503'],
      );
    });
    assert.equal(pair.envoy.log?.flags, 'URX');
  },
);

test('previous_hosts: a retry within one priority goes to the other host', T, async () => {
  const pair = await bench.both({
    model: 'hosts',
    script: passThrough,
    upstreams: { h0a: statusReply(503), h0b: statusReply(503) },
  });
  // Which host comes first differs (the stand-in picks by weight with a pinned random source, Envoy round-robins).
  assertAgree(pair, { except: ['upstream', 'extproc', 'log.attempts'] });
  forBoth(pair, (o) => {
    const order = o.upstream.map((u) => u.upstream);
    assert.equal(order.length, 3);
    assert.deepEqual([...order.slice(0, 2)].sort(), ['h0a', 'h0b']);
  });
});

test(
  "a connect failure is retried on the next priority; Envoy connects while the upstream stage runs, so the failed attempt's stage saw only request_headers (the stand-in connects after the stage)",
  T,
  async () => {
    const pair = await bench.both({
      model: 'connect-failure',
      script: byStage({
        upstream: async (s) => {
          const first = await s.expect('request_headers');
          // A slow processor: the connect failure comes first in Envoy.
          if (first.attributes?.['envoy.filters.http.ext_proc']?.fields?.[BACKEND_ATTRIBUTE]?.stringValue === 'dead')
            await sleep(150);
          s.send({ request_headers: {} });
          await passThrough(s);
        },
      }),
    });
    assertAgree(pair, { except: ['extproc[1]', 'log.attempts'] });
    forBoth(pair, (o) => {
      assert.deepEqual([o.client.status, o.client.body], [200, '{"served_by":"p1"}']);
      assert.deepEqual(backendAttributes(o, BACKEND_ATTRIBUTE), ['dead', 'p1']);
    });
    assert.deepEqual(
      pair.envoy.log?.attempts.map((a) => `${a.backend}:${a.outcome}`),
      ['dead:flags:UF', 'p1:200'],
    );
    assert.deepEqual(
      pair['stand-in'].log?.attempts.map((a) => `${a.backend}:${a.outcome}`),
      ['dead:connection_failure', 'p1:200'],
    );
    assert.deepEqual(kinds(pair.envoy)[1], 'upstream: request_headers');
    assert.deepEqual(kinds(pair['stand-in'])[1], 'upstream: request_headers request_body*');
  },
);

test(
  'the router hands every attempt the same request header map: upstream-stage changes of one attempt (and its host rewrite) are there in the next',
  T,
  async () => {
    const pair = await bench.both({
      model: 'persist',
      script: byStage({
        upstream: async (s) => {
          const h = await s.expect('request_headers');
          const again = (h.request_headers?.headers?.headers ?? []).some((x) => x.key === 'x-attempt');
          s.send({
            request_headers: {
              response: {
                header_mutation: headerMutation({
                  ':path': again ? '/attempt-2' : '/attempt-1',
                  'x-attempt': again ? '2' : '1',
                }),
              },
            },
          });
          await passThrough(s);
        },
      }),
      upstreams: { p0: statusReply(500) },
    });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(
        o.upstream.map((u) => `${u.upstream} ${u.url} ${u.headers['x-attempt']}`),
        ['p0 /attempt-1 1', 'p1 /attempt-2 2'],
      );
      const second = o.extproc[2]?.messages[0]?.headers ?? {};
      assert.deepEqual(
        [second[':path'], second['x-attempt'], second[':authority']],
        ['/attempt-1', '1', o.upstream[0]?.headers.host],
      );
    });
  },
);

test(
  'the route timeout covers every attempt: 504 upstream request timeout (Envoy details response_timeout, flag UT); the pending attempt is abandoned',
  T,
  async () => {
    const closed: Partial<Record<Via, boolean>> = {};
    let via: Via = 'stand-in';
    const scenario = {
      model: 'route-timeout',
      script: passThrough,
      upstreams: {
        p0: async (_req: unknown, res: ServerResponse) => {
          await sleep(200);
          res.writeHead(503, { 'content-length': '0' }).end();
        },
        p1: (_req: unknown, res: ServerResponse) => {
          const which = via;
          res.on('close', () => (closed[which] = true));
        },
      },
    };
    const standIn = await bench.run('stand-in', scenario);
    via = 'envoy';
    const envoy = await bench.run('envoy', scenario);
    const pair = { 'stand-in': standIn, envoy };
    assertAgree(pair, { except: ['log.attempts'] });
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.log?.details],
        [504, 'upstream request timeout', 'response_timeout'],
      );
      assert.ok(o.client.ms >= ROUTE_TIMEOUT_MS - 50 && o.client.ms < ROUTE_TIMEOUT_MS + 1_000, `${o.client.ms} ms`);
      assert.deepEqual(
        o.upstream.map((u) => u.upstream),
        ['p0', 'p1'],
      );
      assert.equal(closed[o.via], true, 'the pending upstream request was abandoned');
    });
    assert.equal(pair.envoy.log?.flags, 'UT');
  },
);

test(
  'the route timeout while the BUFFERED router stage holds the response: the 504 goes out directly, bypassing the filters',
  T,
  async () => {
    const pair = await bench.both({
      model: 'timeout-held',
      script: passThrough,
      upstreams: {
        a: (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"partial":');
        },
      },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.log?.details],
        [504, 'upstream request timeout', 'response_timeout'],
      );
      assert.equal(kinds(o)[0], 'router: request_headers request_body* response_headers');
    });
  },
);

function resetMidBody(_req: unknown, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('data: 1\n\n');
  setTimeout(() => res.socket?.destroy(), 50);
}

test(
  'an upstream closing mid-body is a protocol error: 502 local reply while BUFFERED holds the headers (flag UPE), a client reset once STREAMED headers went out',
  T,
  async () => {
    const buffered = await bench.both({ model: 'reset-buffered', script: passThrough, upstreams: { a: resetMidBody } });
    assertAgree(buffered);
    forBoth(buffered, (o) => {
      assert.deepEqual(
        [o.client.status, o.log?.details],
        [502, 'upstream_reset_after_response_started{protocol_error}'],
      );
      assert.equal(
        o.client.body,
        'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
      );
    });
    assert.equal(buffered.envoy.log?.flags, 'UPE');
    const streamed = await bench.both({
      model: 'reset-streamed',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers', 'request_body']);
          await s.expect('response_headers');
          s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
          await passThrough(s);
        },
      }),
      upstreams: { a: resetMidBody },
    });
    assertAgree(streamed);
    forBoth(streamed, (o) =>
      assert.deepEqual(
        [o.client.status, o.client.reset, o.client.body, o.log?.details],
        [200, true, 'data: 1\n\n', 'upstream_reset_after_response_started{protocol_error}'],
      ),
    );
  },
);

test(
  "an immediate_response from the upstream stage works in 1.40 (PR #41231): it is that attempt's response, passes the router stage, and is not retried",
  T,
  async () => {
    const pair = await bench.both({
      model: 'upstream-immediate',
      script: byStage({
        upstream: async (s) => {
          await s.expect('request_headers');
          s.send({
            immediate_response: {
              status: { code: 'ServiceUnavailable' },
              body: Buffer.from('no key'),
              details: 'credentials missing',
            },
          });
        },
      }),
    });
    assertAgree(pair, { except: ['log.attempts'] });
    forBoth(pair, (o) => {
      // 503 is retriable, yet an upstream filter's local reply is final.
      assert.deepEqual(
        [o.client.status, o.client.body, o.log?.details, o.log?.attempts.length, o.upstream.length],
        [503, 'no key', 'credentials_missing', 1, 0],
      );
      assert.deepEqual(kinds(o), [
        'router: request_headers request_body* response_headers response_body*',
        'upstream: request_headers',
      ]);
    });
  },
);
