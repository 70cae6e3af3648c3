// Parity with real Envoy 1.40 — docs/dataplane.md "Failures": message_timeout, gRPC errors, clean close, spurious
// answers, override_message_timeout, failures after the response started, the client going away.
import type { ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { headerMutation } from '../testing/answers.js';
import {
  byStage,
  connectionManager,
  continueThrough,
  passThrough,
  sleep,
  startBench,
  type Bench,
  type Via,
} from './harness.js';
import { assertAgree, assertScriptsClean, forBoth, kinds } from './expect.js';

const T = { timeout: 30_000 };
const MESSAGE_TIMEOUT_MS = 400;
/** gRPC status codes used below. */
const UNAVAILABLE = 14;
const INTERNAL = 13;

let bench: Bench;
before(async () => {
  bench = await startBench({
    backends: { a: {} },
    routes: Object.fromEntries(
      ['timeout', 'grpc-error', 'clean-close', 'spurious', 'override-timeout', 'late-failure', 'disconnect'].map(
        (m) => [m, { backends: [{ backend: 'a' }] }],
      ),
    ),
    settings: { messageTimeoutMs: MESSAGE_TIMEOUT_MS },
  });
});
after(async () => bench?.close());

test(
  'message_timeout on the router stage: 504 with an empty body (ext_proc_error_per-message_timeout_exceeded); the stream is half-closed and reset at once',
  T,
  async () => {
    const pair = await bench.both({
      model: 'timeout',
      script: byStage({ router: async (s) => void (await s.expect('request_headers')) }),
    });
    assertAgree(pair, { wire: true });
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.client.body, o.client.headers['content-length'], o.log?.details],
        [504, '', '0', 'ext_proc_error_per-message_timeout_exceeded'],
      );
      assert.ok(
        o.client.ms >= MESSAGE_TIMEOUT_MS - 50 && o.client.ms < MESSAGE_TIMEOUT_MS + 1_000,
        `answered after ${o.client.ms} ms`,
      );
      assert.equal(o.upstream.length, 0);
    });
    // An error path: no waiting for the status even with graceful close on.
    assert.deepEqual(pair.envoy.extproc[0]?.wire, ['client END_STREAM', 'client RST_STREAM(INTERNAL_ERROR)']);
  },
);

test(
  'a gRPC error status is a 500 with details ext_proc_error_gRPC_error_<code>{<grpc-message as sent>{via_upstream}} (failure_mode_allow false)',
  T,
  async () => {
    // INTERNAL before any answer (trailers-only), UNAVAILABLE after one (the stream's response has started, so the
    // product's grpc_service retry_policy cannot re-open it; see the next test).
    for (const [variant, code] of [
      ['trailers-only', INTERNAL],
      ['after an answer', UNAVAILABLE],
    ] as const) {
      const pair = await bench.both({
        model: 'grpc-error',
        script: byStage({
          router: async (s) => {
            if (variant === 'after an answer') await continueThrough(s, ['request_headers']);
            await s.expect(variant === 'after an answer' ? 'request_body' : 'request_headers');
            s.fail(code, 'processor down');
          },
        }),
      });
      assertAgree(pair);
      forBoth(pair, (o) => {
        assert.deepEqual([o.client.status, o.client.body], [500, '']);
        // grpc-message is percent-encoded by grpc-js servers (encodeURI) and Envoy does not decode it.
        assert.equal(o.log?.details, `ext_proc_error_gRPC_error_${code}{processor%20down{via_upstream}}`);
        assert.equal(o.upstream.length, 0);
      });
    }
  },
);

test(
  'a gRPC error status while no message is outstanding: Envoy answers 500 at once, abandoning the upstream attempt; the stand-in notices at its next exchange',
  T,
  async () => {
    const pair = await bench.both({
      model: 'grpc-error',
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers', 'request_body']);
          await sleep(50);
          s.fail(INTERNAL, 'boom');
        },
      }),
      upstreams: {
        a: async (_req, res) => {
          await sleep(800);
          res.writeHead(200, { 'content-length': '2' }).end('{}');
        },
      },
    });
    forBoth(pair, (o) =>
      assert.deepEqual([o.client.status, o.log?.details], [500, 'ext_proc_error_gRPC_error_13{boom{via_upstream}}']),
    );
    assert.ok(pair.envoy.client.ms < 600, `Envoy answered after ${pair.envoy.client.ms} ms`);
    assert.ok(
      pair['stand-in'].client.ms >= 800,
      `the stand-in answered after ${pair['stand-in'].client.ms} ms (after the upstream)`,
    );
  },
);

test(
  "gRPC UNAVAILABLE before any answer: the product bootstrap's grpc_service retry_policy makes Envoy re-open the Process stream (the processor sees request_headers again); the stand-in does not retry",
  T,
  async () => {
    const filters = connectionManager(bench.bootstrap ?? {}).http_filters;
    const routerFilter = Array.isArray(filters) ? JSON.stringify(filters[0]) : '';
    const retries = routerFilter.includes('unavailable')
      ? Number(/"num_retries":(\d+)/.exec(routerFilter)?.[1] ?? 0)
      : 0;
    const pair = await bench.both({
      model: 'grpc-error',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.fail(UNAVAILABLE, 'draining');
        },
      }),
    });
    assertAgree(pair, { except: ['extproc'] });
    forBoth(pair, (o) =>
      assert.deepEqual(
        [o.client.status, o.log?.details],
        [500, 'ext_proc_error_gRPC_error_14{draining{via_upstream}}'],
      ),
    );
    assert.deepEqual(
      kinds(pair.envoy),
      Array.from({ length: 1 + retries }, () => 'router: request_headers'),
    );
    assert.deepEqual(kinds(pair['stand-in']), ['router: request_headers']);
  },
);

test(
  "the product bootstrap's local_reply_config reshapes ext_proc failures (e.g. gRPC UNAVAILABLE) into OpenAI-style errors; the stand-in does not reproduce it",
  T,
  async (t) => {
    const product = await startBench({
      backends: { a: {} },
      routes: { m: { backends: [{ backend: 'a' }] } },
      productLocalReplies: true,
    });
    t.after(() => product.close());
    const localReply =
      product.bootstrap === undefined ? undefined : connectionManager(product.bootstrap).local_reply_config;
    const pair = await product.both({
      model: 'm',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.fail(UNAVAILABLE, 'down');
        },
      }),
    });
    assert.deepEqual([pair['stand-in'].client.status, pair['stand-in'].client.body], [500, '']);
    if (localReply === undefined) {
      // No mappers configured (any more): Envoy's own reply.
      assert.deepEqual([pair.envoy.client.status, pair.envoy.client.body], [500, '']);
      return;
    }
    const mapper = JSON.stringify(localReply);
    const status = /"status_code":(\d+)/.exec(mapper)?.[1];
    assert.equal(
      pair.envoy.client.status,
      status !== undefined && mapper.includes('gRPC_error_14') ? Number(status) : 500,
    );
    assert.equal(pair.envoy.client.headers['content-type'], 'application/json');
    const body = JSON.parse(pair.envoy.client.body) as { error?: { code?: string; message?: string } };
    assert.ok(
      body.error?.code !== undefined && mapper.includes(body.error.code),
      `error code ${body.error?.code} comes from the mapper`,
    );
    assert.match(body.error?.message ?? '', /request id: [0-9a-f-]{36}/);
  },
);

test('a clean close (status OK) instead of an answer: the request carries on without the processor', T, async () => {
  const pair = await bench.both({
    model: 'clean-close',
    script: byStage({
      router: async (s) => {
        await continueThrough(s, ['request_headers']);
        await s.expect('request_body');
        s.end();
      },
    }),
  });
  assertAgree(pair);
  forBoth(pair, (o) => {
    assert.deepEqual([o.client.status, o.client.body], [200, '{"served_by":"a"}']);
    assert.equal(o.upstream[0]?.body, '{"model":"m","messages":[]}');
    assert.equal(kinds(o)[0], 'router: request_headers request_body*');
  });
});

test(
  'a clean close right after an answer: same outcome (whether the next message still goes out is a race in both)',
  T,
  async () => {
    const pair = await bench.both({
      model: 'clean-close',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ request_headers: {} });
          s.end();
        },
      }),
    });
    assertAgree(pair, { except: ['extproc[0].messages'] });
    forBoth(pair, (o) => {
      assert.deepEqual([o.client.status, o.upstream[0]?.body], [200, '{"model":"m","messages":[]}']);
      assert.ok(
        ['router: request_headers', 'router: request_headers request_body*'].includes(kinds(o)[0] ?? ''),
        kinds(o)[0],
      );
    });
  },
);

test('an answer of the wrong type is a spurious message: 500 spurious_message (fail-close since 1.35)', T, async () => {
  const pair = await bench.both({
    model: 'spurious',
    script: byStage({
      router: async (s) => {
        await s.expect('request_headers');
        s.send({ response_headers: {} });
      },
    }),
  });
  assertAgree(pair);
  forBoth(pair, (o) =>
    assert.deepEqual([o.client.status, o.log?.details, o.upstream.length], [500, 'spurious_message', 0]),
  );
});

test(
  'a message carrying override_message_timeout is ignored whole when max_message_timeout is not configured',
  T,
  async () => {
    const pair = await bench.both({
      model: 'override-timeout',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({
            override_message_timeout: { seconds: 5 },
            request_headers: { response: { header_mutation: headerMutation({ 'x-ignored': '1' }) } },
          });
          s.send({ request_headers: { response: { header_mutation: headerMutation({ 'x-applied': '1' }) } } });
          await passThrough(s);
        },
      }),
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.status, 200);
      assert.deepEqual([o.upstream[0]?.headers['x-ignored'], o.upstream[0]?.headers['x-applied']], [undefined, '1']);
    });
  },
);

test('a failure after STREAMED response headers reached the client resets the client stream', T, async () => {
  const pair = await bench.both({
    model: 'late-failure',
    script: byStage({
      router: async (s) => {
        await continueThrough(s, ['request_headers', 'request_body']);
        await s.expect('response_headers');
        s.send({ response_headers: {}, mode_override: { response_body_mode: 'STREAMED' } });
        await s.expect('response_body');
        s.fail(INTERNAL, 'boom');
      },
    }),
    upstreams: {
      a: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end(), 300);
      },
    },
  });
  assertAgree(pair);
  forBoth(pair, (o) =>
    assert.deepEqual(
      [o.client.status, o.client.reset, o.log?.details],
      [200, true, 'ext_proc_error_gRPC_error_13{boom{via_upstream}}'],
    ),
  );
});

test(
  "the client going away: both stages' streams are closed (gracefully: half-close, the processor's status awaited) and the upstream request is aborted; logged as 0 downstream_remote_disconnect",
  T,
  async () => {
    const upstreamClosed: Partial<Record<Via, boolean>> = {};
    let via: Via = 'stand-in';
    const scenario = {
      model: 'disconnect',
      script: passThrough,
      upstreams: {
        a: (_req: unknown, res: ServerResponse) => {
          const which = via;
          res.on('close', () => (upstreamClosed[which] = true));
        },
      },
      request: { abortAfterUpstreamMs: 100 },
    };
    const standIn = await bench.run('stand-in', scenario);
    via = 'envoy';
    const envoy = await bench.run('envoy', scenario);
    const pair = { 'stand-in': standIn, envoy };
    // Attempt outcomes use different words (stand-in: the reason; Envoy: response flags).
    assertAgree(pair, { except: ['log.attempts'], wire: true });
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.deepEqual([o.log?.responseCode, o.log?.details], [0, 'downstream_remote_disconnect']);
      for (const stream of o.extproc)
        assert.deepEqual(stream.wire, ['client END_STREAM', 'server END_STREAM'], stream.stage);
      assert.deepEqual(kinds(o), ['router: request_headers request_body*', 'upstream: request_headers request_body*']);
      assert.equal(upstreamClosed[o.via], true, 'the upstream request was aborted');
    });
    assert.equal(pair.envoy.log?.flags, 'DC');
  },
);

test(
  "message_timeout on the upstream stage: its 504 is that attempt's response — not retried — and passes the router stage",
  T,
  async () => {
    const pair = await bench.both({
      model: 'timeout',
      script: byStage({ upstream: async (s) => void (await s.expect('request_headers')) }),
    });
    // (Route "timeout" has one backend; what matters is that the 504 is not retried even though 504 is retriable.)
    assertAgree(pair, { except: ['log.attempts'] });
    forBoth(pair, (o) => {
      assert.deepEqual(
        [o.client.status, o.log?.details, o.log?.attempts.length, o.upstream.length],
        [504, 'ext_proc_error_per-message_timeout_exceeded', 1, 0],
      );
      const routerSaw = o.extproc[0]?.messages[2];
      assert.deepEqual(
        [
          routerSaw?.kind,
          routerSaw?.headers?.[':status'],
          routerSaw?.endOfStream,
          routerSaw?.headers?.['content-length'],
        ],
        ['response_headers', '504', true, undefined],
      );
    });
  },
);
