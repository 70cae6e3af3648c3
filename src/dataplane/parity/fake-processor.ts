// Parity harness: a scripted ExternalProcessor/Process server written directly on node:http2 (gRPC framing by hand),
// so that every way of answering and of ending a stream is under the scenario's control — trailers-only error
// statuses, OK after messages, nothing at all — and so that each stream's HTTP/2 identity (connection, stream id)
// is known and the wire tap in front of it can say how the CLIENT (stand-in or Envoy) ended the stream.
//
// The API follows src/dataplane/testing/fake-extproc.ts (next / expect / send / end / fail, the same Inbox and stock
// scripts from testing/script.ts), which the stand-in's own tests use.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { STAGE_METADATA_KEY } from '../../extproc/contract.js';
import { loadServiceProtos } from '../../protos/load.js';
import type { ProcessingRequest__Output } from '../../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { startH2Tap, type H2Tap, type WireEvent } from './h2-tap.js';
import { ScriptableStream, StreamEnded, StreamLog } from '../testing/script.js';

const PROCESS_PATH = '/envoy.service.ext_proc.v3.ExternalProcessor/Process';
const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

interface Codec {
  decode(buf: Buffer): ProcessingRequest__Output;
  encode(message: ProcessingResponse): Buffer;
}

let codec: Codec | undefined;
function processCodec(): Codec {
  if (codec === undefined) {
    const method = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor.service['Process'];
    if (method === undefined) throw new Error('ExternalProcessor.Process not in the loaded protos');
    codec = {
      decode: (buf) => method.requestDeserialize(buf),
      encode: (message) => method.responseSerialize(message),
    };
  }
  return codec;
}

/** How the server side finished a stream, if it did. */
export type ServerFinish = { readonly code: number; readonly details: string };

function stageOf(headers: http2.IncomingHttpHeaders): string {
  const stage = headers[STAGE_METADATA_KEY];
  return typeof stage === 'string' ? stage : '';
}

export class ProcessorStream extends ScriptableStream {
  readonly streamId: number;
  readonly peerPort: number;
  readonly openedAt = Date.now();
  /** Resolves when the stream is closed for good (both sides done, or reset). */
  readonly closed: Promise<void>;
  isHalfClosed = false;
  isClosed = false;
  /** RST_STREAM code node reports when the stream closed (0 for a normal close). */
  rstCode: number | undefined;
  serverFinish: ServerFinish | undefined;
  private responded = false;
  private pending: Buffer = Buffer.alloc(0);
  private readonly halfCloseListeners: Array<() => void> = [];

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    private readonly onScriptError: (error: unknown) => void,
  ) {
    super(stageOf(headers));
    this.streamId = stream.id ?? 0;
    this.peerPort = stream.session?.socket?.remotePort ?? 0;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => {
      this.isHalfClosed = true;
      this.inboxEnded('the client half-closed the stream');
      for (const l of this.halfCloseListeners.splice(0)) l();
    });
    stream.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      stream.on('close', () => {
        this.isClosed = true;
        this.rstCode = stream.rstCode;
        this.inboxEnded('the stream closed');
        resolve();
      }),
    );
  }

  onHalfClose(listener: () => void): void {
    if (this.isHalfClosed) listener();
    else this.halfCloseListeners.push(listener);
  }

  send(response: ProcessingResponse): void {
    if (!this.writable()) return;
    this.respond();
    const body = processCodec().encode(response);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.stream.write(frame);
  }

  /** Ends the stream with status OK (a clean close). */
  end(): void {
    this.finish(0, '');
  }

  /** Ends the stream with an error status. */
  fail(code: number, details: string): void {
    this.finish(code, details);
  }

  /** Resets the stream from the server side (RST_STREAM with `code`, default CANCEL). */
  reset(code: number = http2.constants.NGHTTP2_CANCEL): void {
    if (!this.isClosed) this.stream.close(code);
  }

  private writable(): boolean {
    return this.serverFinish === undefined && !this.isClosed && !this.stream.destroyed;
  }

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }

  private finish(code: number, details: string): void {
    if (!this.writable()) return;
    this.serverFinish = { code, details };
    const status = { 'grpc-status': String(code), ...(details ? { 'grpc-message': encodeURIComponent(details) } : {}) };
    if (!this.responded) {
      // Trailers-only response.
      this.responded = true;
      this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
      return;
    }
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(status));
    this.stream.end();
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) break;
      const body = this.pending.subarray(5, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      let message: ProcessingRequest__Output;
      try {
        message = processCodec().decode(Buffer.from(body));
      } catch (error) {
        this.onScriptError(error);
        continue;
      }
      this.deliver(message);
    }
  }
}

export type ProcessorScript = (stream: ProcessorStream) => Promise<void> | void;

export interface FakeProcessor {
  /** host:port to point the data plane at (the wire tap in front of the server). */
  readonly target: string;
  readonly tapPort: number;
  /** Streams opened since the last reset(), in order. */
  readonly streams: ProcessorStream[];
  /** Errors thrown by scripts (other than the stream ending) since the last reset(). */
  readonly scriptErrors: unknown[];
  /** The script for the streams opened from now on. */
  setScript(script: ProcessorScript): void;
  /** Whether the server finishes a stream with status OK as soon as the client half-closes it. */
  setFinishOnHalfClose(finish: boolean): void;
  /** Forgets recorded streams (resetting any still open) and errors. */
  reset(): void;
  /** The wire events of a stream (opening and closing frames). */
  wire(stream: ProcessorStream): readonly WireEvent[];
  waitForStreams(count: number, timeoutMs?: number): Promise<ProcessorStream[]>;
  close(): Promise<void>;
}

export async function startFakeProcessor(): Promise<FakeProcessor> {
  let script: ProcessorScript = () => undefined;
  let finishOnHalfClose = false;
  const log = new StreamLog<ProcessorStream>();
  const streams = log.streams;
  const scriptErrors: unknown[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    if (headers[':path'] === HEALTH_CHECK_PATH) {
      // The generated bootstrap health-checks the llm-extproc cluster (grpc.health.v1), as the service answers it.
      stream.on('data', () => undefined);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // HealthCheckResponse { status: SERVING }: field 1, varint 1.
      stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
      return;
    }
    if (headers[':path'] !== PROCESS_PATH) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    const recordError = (error: unknown) => scriptErrors.push(error);
    const ps = new ProcessorStream(stream, headers, recordError);
    log.add(ps);
    ps.onHalfClose(() => {
      if (finishOnHalfClose) setImmediate(() => ps.end());
    });
    const current = script;
    Promise.resolve()
      .then(() => current(ps))
      .catch((error: unknown) => {
        if (!(error instanceof StreamEnded)) recordError(error);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const serverPort = (server.address() as AddressInfo).port;
  const tap: H2Tap = await startH2Tap({ host: '127.0.0.1', port: serverPort });
  return {
    target: `127.0.0.1:${tap.port}`,
    tapPort: tap.port,
    streams,
    scriptErrors,
    setScript: (s) => (script = s),
    setFinishOnHalfClose: (finish) => (finishOnHalfClose = finish),
    reset: () => {
      for (const s of streams) s.reset();
      streams.length = 0;
      scriptErrors.length = 0;
    },
    wire: (s) => tap.events(s.peerPort, s.streamId),
    waitForStreams: (count, timeoutMs) => log.waitFor(count, timeoutMs),
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tap.close();
    },
  };
}
