import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createExtProcClient, ProcessStream } from './extproc-client.js';
import { ROUTER_FILTER_SPEC } from './filters.js';
import { startFakeExtProc, type Script } from './testing/fake-extproc.js';
import { sleep } from './testing/answers.js';

const HEADERS = {
  request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/') }] }, end_of_stream: true },
};

async function withStream(
  script: Script,
  body: (stream: ProcessStream, server: Awaited<ReturnType<typeof startFakeExtProc>>) => Promise<void>,
): Promise<void> {
  const server = await startFakeExtProc(script);
  const client = createExtProcClient(server.target);
  const stream = new ProcessStream(client, ROUTER_FILTER_SPEC.initialMetadata);
  try {
    await body(stream, server);
  } finally {
    stream.close();
    client.close();
    await server.close();
  }
}

test(
  'stream opens on the first message with the stage metadata; answers come back in order',
  { timeout: 10_000 },
  async () => {
    await withStream(
      async (s) => {
        await s.expect('request_headers');
        s.send({ request_headers: {} });
        await s.expect('request_body');
        s.send({ request_body: {} });
      },
      async (stream, server) => {
        await sleep(50);
        assert.equal(server.streams.length, 0, 'no stream before the first message');
        const first = await stream.exchange(HEADERS, 1_000);
        assert.equal(first.kind === 'response' ? first.response.response : first.kind, 'request_headers');
        const second = await stream.exchange({ request_body: { body: Buffer.from('x'), end_of_stream: true } }, 1_000);
        assert.equal(second.kind === 'response' ? second.response.response : second.kind, 'request_body');
        assert.equal(server.streams[0]?.stage, 'router');
        assert.equal(stream.messagesSent, 2);
      },
    );
  },
);

test('no answer within message_timeout is a timeout; a late answer is dropped', { timeout: 10_000 }, async () => {
  await withStream(
    async (s) => {
      await s.expect('request_headers');
      await sleep(300);
      s.send({ request_headers: {} });
    },
    async (stream) => {
      assert.deepEqual(await stream.exchange(HEADERS, 100), { kind: 'timeout' });
    },
  );
});

test('error status, clean close and unsolicited messages are reported', { timeout: 10_000 }, async () => {
  await withStream(
    async (s) => {
      await s.expect('request_headers');
      s.fail(grpc.status.UNAVAILABLE, 'backend down');
    },
    async (stream) => {
      const result = await stream.exchange(HEADERS, 1_000);
      assert.deepEqual(result, { kind: 'error', code: grpc.status.UNAVAILABLE, details: 'backend down' });
    },
  );
  await withStream(
    async (s) => {
      await s.expect('request_headers');
      s.end();
    },
    async (stream) => {
      assert.deepEqual(await stream.exchange(HEADERS, 1_000), { kind: 'closed' });
    },
  );
  await withStream(
    async (s) => {
      await s.expect('request_headers');
      s.send({ request_headers: {} });
      s.send({ response_headers: {} });
    },
    async (stream) => {
      assert.equal((await stream.exchange(HEADERS, 1_000)).kind, 'response');
      await sleep(100);
      assert.deepEqual(await stream.exchange({ request_body: { end_of_stream: true } }, 1_000), {
        kind: 'unsolicited',
      });
    },
  );
});

test('close() half-closes then cancels, like ExternalProcessorStreamImpl::close()', { timeout: 10_000 }, async () => {
  await withStream(
    async (s) => {
      await s.expect('request_headers');
      s.send({ request_headers: {} });
    },
    async (stream, server) => {
      await stream.exchange(HEADERS, 1_000);
      stream.close();
      const [s] = await server.waitForStreams(1);
      assert.ok(s);
      await Promise.race([s.cancelled, sleep(2_000)]);
      assert.equal(s.isCancelled, true);
    },
  );
});
