// Parity with real Envoy 1.40 — docs/dataplane.md "Stream and message order", and how Envoy ends each Process
// stream on the wire (the h2 tap in front of the fake processor sees every END_STREAM and RST_STREAM).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND_ATTRIBUTE } from '../../extproc/contract.js';
import {
  backendAttributes,
  byStage,
  continueThrough,
  passThrough,
  startBench,
  statusReply,
  type Bench,
} from './harness.js';
import { EXT_PROC_STREAM_CLOSE } from '../filters.js';
import { assertAgree, assertScriptsClean, forBoth, kinds } from './expect.js';

const T = { timeout: 30_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let bench: Bench;
before(async () => {
  bench = await startBench({
    backends: { a: {}, p0: { priority: 0 }, p1: { priority: 1 } },
    routes: {
      order: { backends: [{ backend: 'a' }] },
      nobody: { backends: [{ backend: 'a' }] },
      attempts: { backends: [{ backend: 'p0' }, { backend: 'p1' }] },
      'end-normal': { backends: [{ backend: 'a' }] },
      'end-status': { backends: [{ backend: 'a' }] },
    },
  });
});
after(async () => bench?.close());

test(
  'one Process stream per request per stage with the stage metadata; request_headers → request_body → response_headers → response_body; pseudo-headers first, values in raw_value',
  T,
  async () => {
    const pair = await bench.both({ model: 'order', script: passThrough });
    assertAgree(pair);
    assertScriptsClean(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.status, 200);
      // The stage comes from grpc_service.initial_metadata (x-llm-extproc-stage), read by the processor per stream.
      assert.deepEqual(kinds(o), [
        'router: request_headers request_body* response_headers response_body*',
        'upstream: request_headers request_body* response_headers',
      ]);
      for (const stream of o.extproc) {
        const headers = stream.messages[0];
        assert.deepEqual(headers?.headerNames?.slice(0, 4), [':authority', ':path', ':method', ':scheme']);
        assert.equal(headers?.rawValues, true);
        assert.equal(headers?.endOfStream, false, 'a body follows');
        assert.match(headers?.headers?.['x-request-id'] ?? '', UUID, 'x-request-id generated when absent');
      }
    });
  },
);

test(
  "a request without a body: request_headers end_of_stream true, no request_body; a client's x-request-id is replaced (edge proxy)",
  T,
  async () => {
    const pair = await bench.both({
      model: 'nobody',
      script: passThrough,
      request: { method: 'GET', path: '/v1/models', headers: { 'x-request-id': 'client-id-1' } },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.status, 200);
      assert.deepEqual(kinds(o), [
        'router: request_headers* response_headers response_body*',
        'upstream: request_headers* response_headers',
      ]);
      // use_remote_address: true and no internal addresses: Envoy regenerates the id of every request from outside.
      const seen = o.extproc[0]?.messages[0]?.headers?.['x-request-id'] ?? '';
      assert.match(seen, UUID);
      assert.equal(o.upstream[0]?.headers['x-request-id'], seen);
    });
  },
);

test(
  'upstream filter: a new Process stream per attempt, after the host is chosen, the backend as request attribute',
  T,
  async () => {
    const pair = await bench.both({
      model: 'attempts',
      script: passThrough,
      upstreams: { p0: statusReply(503, 'busy') },
    });
    assertAgree(pair);
    forBoth(pair, (o) => {
      assert.equal(o.client.status, 200);
      assert.deepEqual(backendAttributes(o, BACKEND_ATTRIBUTE), ['p0', 'p1']);
      assert.deepEqual(kinds(o).slice(1), [
        'upstream: request_headers request_body* response_headers',
        'upstream: request_headers request_body* response_headers',
      ]);
      for (const stream of o.extproc.filter((s) => s.stage === 'upstream')) {
        assert.deepEqual(Object.keys(stream.messages[0]?.attributes ?? {}), ['envoy.filters.http.ext_proc']);
        assert.equal(stream.messages[1]?.attributes, undefined, 'attributes only on the first message');
      }
    });
  },
);

test('the stand-in ends streams the way the generated bootstrap tells Envoy to (runtime ext_proc_graceful_grpc_close)', () => {
  const layers =
    (bench.bootstrap?.layered_runtime as { layers?: Array<{ static_layer?: Record<string, unknown> }> } | undefined)
      ?.layers ?? [];
  const flag =
    layers.map((l) => l.static_layer?.[EXT_PROC_STREAM_CLOSE.runtimeFlag]).find((v) => v !== undefined) ?? false;
  assert.equal(flag, EXT_PROC_STREAM_CLOSE.graceful);
});

test(
  "stream end (product runtime): at the end of a request, and after an immediate response, each stage's stream is half-closed and the processor's status awaited: a processor that finishes on half-close ends every stream without RST_STREAM",
  T,
  async () => {
    const scenarios = {
      'normal end': { model: 'end-normal', script: passThrough },
      'immediate response': {
        model: 'end-normal',
        script: byStage({
          router: async (s) => {
            await s.expect('request_headers');
            s.send({ immediate_response: { status: { code: 'TooManyRequests' } } });
          },
        }),
      },
    } as const;
    for (const [name, scenario] of Object.entries(scenarios)) {
      const pair = await bench.both({ ...scenario, finishOnHalfClose: true });
      assertAgree(pair, { wire: true });
      forBoth(pair, (o) => {
        for (const stream of o.extproc)
          assert.deepEqual(stream.wire, ['client END_STREAM', 'server END_STREAM'], `${name} ${stream.stage}`);
      });
    }
  },
);

test(
  'stream end (product runtime): a processor that does not finish is reset remote_close_timeout (1 s) after the half-close',
  T,
  async () => {
    const pair = await bench.both({
      model: 'end-normal',
      script: passThrough,
      finishOnHalfClose: false,
      settleMs: 3_000,
    });
    assertAgree(pair, { wire: true });
    forBoth(pair, (o) => {
      for (const stream of o.extproc) {
        assert.deepEqual(
          stream.wire.map((w) => w.replace(/\(.*\)/, '')),
          ['client END_STREAM', 'client RST_STREAM'],
          stream.stage,
        );
        assert.ok(
          (stream.resetDelayMs ?? 0) >= 900 && (stream.resetDelayMs ?? 0) <= 1_500,
          `${o.via} ${stream.stage}: reset ${stream.resetDelayMs} ms after the half-close`,
        );
      }
    });
    for (const stream of pair.envoy.extproc) assert.equal(stream.wire[1], 'client RST_STREAM(INTERNAL_ERROR)');
    for (const stream of pair['stand-in'].extproc) assert.equal(stream.wire[1], 'client RST_STREAM(CANCEL)');
  },
);

test(
  'stream end on an error path (a spurious answer; likewise a rejected one) closes at once, without waiting: Envoy sends a bare RST_STREAM, the stand-in half-closes first (node cannot send a bare reset)',
  T,
  async () => {
    const spurious = await bench.both({
      model: 'end-normal',
      script: byStage({
        router: async (s) => {
          await s.expect('request_headers');
          s.send({ response_headers: {} });
        },
      }),
    });
    assertAgree(spurious);
    assert.deepEqual(spurious.envoy.extproc[0]?.wire, ['client RST_STREAM(INTERNAL_ERROR)']);
    assert.deepEqual(spurious['stand-in'].extproc[0]?.wire, ['client END_STREAM', 'client RST_STREAM(CANCEL)']);
  },
);

test(
  "stream end after the processor's own status (OK or error): Envoy resets its side, the stand-in (grpc-js) half-closes — nothing a gRPC server sees",
  T,
  async () => {
    for (const finish of ['ok', 'error'] as const) {
      const pair = await bench.both({
        model: 'end-status',
        script: byStage({
          router: async (s) => {
            await continueThrough(s, ['request_headers']);
            await s.expect('request_body');
            // Finish instead of answering: a clean close carries on without the processor, an error is a 500.
            if (finish === 'ok') s.end();
            else s.fail(13, 'boom');
          },
        }),
      });
      assertAgree(pair, { wire: true });
      assert.equal(pair.envoy.client.status, finish === 'ok' ? 200 : 500);
      assert.deepEqual(pair.envoy.extproc[0]?.wire, ['server END_STREAM', 'client RST_STREAM(INTERNAL_ERROR)']);
      assert.deepEqual(pair['stand-in'].extproc[0]?.wire, ['server END_STREAM', 'client END_STREAM']);
    }
  },
);

test(
  "stream end with Envoy 1.40's default runtime (ext_proc_graceful_grpc_close off, e.g. a sidecar without the generated bootstrap): no half-close reaches the wire, each stream gets a bare RST_STREAM(INTERNAL_ERROR); a half-close then reset only when a timer or another connection triggers the close",
  { timeout: 30_000 },
  async (t) => {
    const plain = await startBench({
      backends: { a: {} },
      routes: { m: { backends: [{ backend: 'a' }] }, n: { backends: [{ backend: 'a' }] } },
      vias: ['envoy'],
      bootstrap: (b) => {
        delete b.layered_runtime;
      },
    });
    t.after(() => plain.close());
    const normal = await plain.run('envoy', { model: 'm', script: passThrough, finishOnHalfClose: true });
    assert.equal(normal.client.status, 200);
    for (const stream of normal.extproc)
      assert.deepEqual(stream.wire, ['client RST_STREAM(INTERNAL_ERROR)'], stream.stage);
    const aborted = await plain.run('envoy', {
      model: 'n',
      script: passThrough,
      upstreams: { a: () => undefined },
      request: { abortAfterUpstreamMs: 100 },
    });
    for (const stream of aborted.extproc)
      assert.deepEqual(stream.wire, ['client END_STREAM', 'client RST_STREAM(INTERNAL_ERROR)'], stream.stage);
  },
);
