// Envoy half-closes an ext_proc stream when the exchange is over. The server must finish the stream right there
// (status OK, END_STREAM both ways) so that nothing is left for the client to reset: every RST_STREAM spends a
// token of nghttp2's rapid-reset budget on this connection (bench/stream-reset.ts measures that budget).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { ConfigStore } from '../config/store.js';
import type { ProcessingRequest } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import { loadServiceProtos } from '../protos/load.js';
import { metrics } from '../telemetry/metrics.js';
import { configFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { startExtProcServer } from './server.js';
import { CHAT_HEADERS, requestHeaders } from './testing.js';

const store = new ConfigStore('unused.yaml', configFromYaml(TWO_BACKENDS_YAML), { PRIMARY_KEY: 'k' });
const processMethod = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor.service['Process'];

function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

async function cancelledRouterStreams(): Promise<number> {
  const { values } = await metrics.streamFailures.get();
  return values.find((v) => v.labels.stage === 'router' && v.labels.reason === 'cancelled')?.value ?? 0;
}

interface Ending {
  readonly grpcStatus: string | undefined;
  readonly rstCode: number;
  readonly rstCodeAfterCancel: number;
}

/** One raw HTTP/2 stream: the messages and END_STREAM together (the half-close), then wait for the stream to close. */
function halfCloseExchange(session: http2.ClientHttp2Session, messages: Buffer[]): Promise<Ending> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      { ':method': 'POST', ':path': processMethod?.path ?? '', 'content-type': 'application/grpc', te: 'trailers' },
      { endStream: messages.length === 0 },
    );
    let grpcStatus: string | undefined;
    stream.on('trailers', (headers) => (grpcStatus = String(headers['grpc-status'])));
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
    });
    stream.resume();
    stream.on('error', reject);
    stream.on('close', () => {
      const rstCode = stream.rstCode;
      stream.close(http2.constants.NGHTTP2_CANCEL); // what a client resetting after the status would do: a no-op
      resolve({ grpcStatus, rstCode, rstCodeAfterCancel: stream.rstCode });
    });
    if (messages.length > 0) stream.end(Buffer.concat(messages.map(grpcFrame)));
  });
}

test('a client that half-closes gets status OK at once and has nothing left to cancel', async (t) => {
  assert.ok(processMethod);
  const server = await startExtProcServer(store, '127.0.0.1:0');
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  t.after(async () => {
    session.close();
    await server.close();
  });
  const cancelledBefore = await cancelledRouterStreams();
  const message = requestHeaders({ ...CHAT_HEADERS, ':method': 'GET', ':path': '/v1/models' }) as ProcessingRequest;
  const headers = processMethod.requestSerialize(message);
  const endings = [await halfCloseExchange(session, [headers]), await halfCloseExchange(session, [])];
  for (const ending of endings) {
    assert.deepEqual(ending, {
      grpcStatus: '0',
      rstCode: http2.constants.NGHTTP2_NO_ERROR,
      rstCodeAfterCancel: http2.constants.NGHTTP2_NO_ERROR,
    });
  }
  // The server saw clean ends, not cancellations.
  assert.equal(await cancelledRouterStreams(), cancelledBefore);
});
