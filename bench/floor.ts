// The transport floor: an ext_proc server on the same grpc-js, the same proto loading and the same server options
// as the real one, that answers every message with the matching empty response (CONTINUE, no mutation).
// Whatever the real server costs above this is the price of llm-extproc's own work. Two variants for
// bench/latency.ts's floors of other transports: bodies in FULL_DUPLEX_STREAMED (answered after the whole body,
// echoed back), and the same answers over node:http2 without grpc-js (startRawFloorServer).
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type { ProcessingRequest__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { externalProcessorService } from '../src/protos/load.js';
import { splitHostPort } from '../src/util/address.js';

type ProcessCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

/** A direction whose body is FULL_DUPLEX_STREAMED: the headers' answer waits for the whole body, which is echoed. */
interface DuplexDirection {
  held: boolean;
  chunks: Buffer[];
}

function handle(call: ProcessCall): void {
  const duplex: { request?: DuplexDirection; response?: DuplexDirection } = {};
  const finish = (side: 'request' | 'response', d: DuplexDirection) => {
    if (d.held) call.write({ [`${side}_headers`]: {} });
    d.held = false;
    call.write({
      [`${side}_body`]: {
        response: { body_mutation: { streamed_response: { body: Buffer.concat(d.chunks), end_of_stream: true } } },
      },
    });
    d.chunks = [];
  };
  call.on('data', (message: ProcessingRequest__Output) => {
    if (message.request === undefined) {
      call.destroy(Object.assign(new Error('empty ProcessingRequest'), { code: grpc.status.INVALID_ARGUMENT }));
      return;
    }
    const config = message.protocol_config;
    if (config) {
      if (config.request_body_mode === 'FULL_DUPLEX_STREAMED') duplex.request = { held: false, chunks: [] };
      if (config.response_body_mode === 'FULL_DUPLEX_STREAMED') duplex.response = { held: false, chunks: [] };
    }
    const side = message.request.startsWith('request') ? 'request' : 'response';
    const d = duplex[side];
    if (d) {
      if (message.request === `${side}_headers` && !message[`${side}_headers`]?.end_of_stream) {
        d.held = true;
        return;
      }
      if (message.request === `${side}_body`) {
        const body = message[`${side}_body`]!;
        if (body.body) d.chunks.push(body.body);
        if (body.end_of_stream) finish(side, d);
        return;
      }
      if (message.request === `${side}_trailers`) {
        finish(side, d);
        call.write({ [`${side}_trailers`]: {} });
        return;
      }
    }
    call.write({ [message.request]: {} });
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

export async function startFloorServer(
  address: string,
  /** Also listen on this Unix socket. */
  unixSocket?: string,
): Promise<{ port: number; close(): void }> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  server.addService(externalProcessorService(), { Process: handle });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  if (unixSocket)
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(`unix:${unixSocket}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  return { port, close: () => server.forceShutdown() };
}

/**
 * The same CONTINUE-only answers over node:http2 directly, without grpc-js: the same codec (proto-loader's
 * serialize/deserialize), gRPC's framing by hand. Measures what grpc-js itself costs per stream and message.
 */
export async function startRawFloorServer(address: string): Promise<{ port: number; close(): void }> {
  const method = externalProcessorService().Process!;
  const decode = method.requestDeserialize as (b: Buffer) => ProcessingRequest__Output;
  const encode = method.responseSerialize as (m: ProcessingResponse) => Buffer;
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== method.path) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        // Envoy does not compress ext_proc messages; a compressed one is beyond this floor.
        if (pending[0] !== 0) {
          stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
          return;
        }
        const length = pending.readUInt32BE(1);
        if (pending.length < 5 + length) break;
        const message = decode(pending.subarray(5, 5 + length));
        pending = pending.subarray(5 + length);
        const payload = encode({ [message.request!]: {} });
        const frame = Buffer.allocUnsafe(5 + payload.length);
        frame[0] = 0;
        frame.writeUInt32BE(payload.length, 1);
        payload.copy(frame, 5);
        stream.write(frame);
      }
    });
    stream.on('end', () => stream.end());
    stream.on('error', () => undefined);
  });
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const bound = server.address();
  return { port: typeof bound === 'object' && bound ? bound.port : 0, close: () => server.close() };
}
