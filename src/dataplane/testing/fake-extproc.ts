// Test helper: a scripted ExternalProcessor gRPC server on 127.0.0.1 (port 0). Each Process stream runs the
// script with a ScriptedStream that reads what the data plane sent and answers exactly as the test says.
import * as grpc from '@grpc/grpc-js';
import { STAGE_METADATA_KEY } from '../../extproc/contract.js';
import { externalProcessorService } from '../../protos/load.js';
import type { ProcessingRequest__Output } from '../../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HeaderMap__Output } from '../../generated/envoy/config/core/v3/HeaderMap.js';

type ServerCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

export type RequestKind = NonNullable<ProcessingRequest__Output['request']>;

export class StreamEnded extends Error {
  override readonly name = 'StreamEnded';
}

export class ScriptedStream {
  readonly stage: string;
  readonly received: ProcessingRequest__Output[] = [];
  /** Resolves when the data plane half-closes its side (Envoy's closeStream). */
  readonly halfClosed: Promise<void>;
  /** Resolves when the data plane cancels (resets) the stream. */
  readonly cancelled: Promise<void>;
  isCancelled = false;
  isHalfClosed = false;
  private readonly queue: ProcessingRequest__Output[] = [];
  private waiter: { resolve: (m: ProcessingRequest__Output) => void; reject: (e: Error) => void } | undefined;
  private finishedByServer = false;

  constructor(private readonly call: ServerCall) {
    const stage = call.metadata.get(STAGE_METADATA_KEY)[0];
    this.stage = typeof stage === 'string' ? stage : '';
    call.on('data', (message: ProcessingRequest__Output) => {
      this.received.push(message);
      if (this.waiter !== undefined) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(message);
      } else {
        this.queue.push(message);
      }
    });
    this.halfClosed = new Promise((resolve) =>
      call.on('end', () => {
        this.isHalfClosed = true;
        this.failWaiter('the data plane half-closed the stream');
        resolve();
      }),
    );
    this.cancelled = new Promise((resolve) =>
      call.on('cancelled', () => {
        this.isCancelled = true;
        this.failWaiter('the data plane cancelled the stream');
        resolve();
      }),
    );
    call.on('error', () => {});
  }

  /** The next message from the data plane. */
  next(timeoutMs = 5_000): Promise<ProcessingRequest__Output> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.isHalfClosed || this.isCancelled) return Promise.reject(new StreamEnded('stream already ended'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no ${this.stage} message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** The next message, which must be of `kind`. */
  async expect(kind: RequestKind, timeoutMs?: number): Promise<ProcessingRequest__Output> {
    const message = await this.next(timeoutMs);
    if (message.request !== kind) throw new Error(`expected ${kind}, got ${message.request ?? 'nothing'}`);
    return message;
  }

  send(response: ProcessingResponse): void {
    if (!this.finishedByServer && !this.isCancelled) this.call.write(response);
  }

  /** Ends the stream with status OK (a clean close). */
  end(): void {
    if (this.finishedByServer || this.isCancelled) return;
    this.finishedByServer = true;
    this.call.end();
  }

  /** Ends the stream with an error status. */
  fail(code: grpc.status, details: string): void {
    if (this.finishedByServer || this.isCancelled) return;
    this.finishedByServer = true;
    this.call.emit('error', { code, details });
  }

  private failWaiter(why: string): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new StreamEnded(why));
  }
}

export type Script = (stream: ScriptedStream) => Promise<void> | void;

export interface FakeExtProc {
  readonly target: string;
  readonly streams: ScriptedStream[];
  /** Resolves once `count` streams have been opened. */
  waitForStreams(count: number, timeoutMs?: number): Promise<ScriptedStream[]>;
  close(): Promise<void>;
}

/** Headers of an HttpHeaders message as name → value (raw_value decoded), duplicates joined with ",". */
export function headersOf(map: HeaderMap__Output | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of map?.headers ?? []) {
    const key = h.key ?? '';
    const value = (h.raw_value ?? Buffer.alloc(0)).toString('latin1');
    out[key] = out[key] === undefined ? value : `${out[key]},${value}`;
  }
  return out;
}

/** Header names in the order sent. */
export function headerNames(map: HeaderMap__Output | undefined): string[] {
  return (map?.headers ?? []).map((h) => h.key ?? '');
}

/** The empty answer of the matching type (CONTINUE, no mutation). */
export function continueFor(message: ProcessingRequest__Output): ProcessingResponse {
  switch (message.request) {
    case 'request_headers':
      return { request_headers: {} };
    case 'response_headers':
      return { response_headers: {} };
    case 'request_body':
      return { request_body: {} };
    case 'response_body':
      return { response_body: {} };
    case 'request_trailers':
      return { request_trailers: {} };
    case 'response_trailers':
      return { response_trailers: {} };
    default:
      throw new Error('message without a request');
  }
}

/** Answers every message with CONTINUE until the data plane closes the stream. */
export async function passThrough(stream: ScriptedStream): Promise<void> {
  for (;;) {
    let message: ProcessingRequest__Output;
    try {
      message = await stream.next(30_000);
    } catch {
      return;
    }
    stream.send(continueFor(message));
  }
}

/** A script per stage; stages without one pass through. */
export function byStage(scripts: { router?: Script; upstream?: Script }): Script {
  return (stream) => {
    const script = stream.stage === 'upstream' ? scripts.upstream : scripts.router;
    return (script ?? passThrough)(stream);
  };
}

export async function startFakeExtProc(script: Script): Promise<FakeExtProc> {
  const server = new grpc.Server();
  const streams: ScriptedStream[] = [];
  const streamWaiters: Array<() => void> = [];
  server.addService(externalProcessorService(), {
    Process: (call: ServerCall) => {
      const stream = new ScriptedStream(call);
      streams.push(stream);
      for (const w of streamWaiters.splice(0)) w();
      Promise.resolve()
        .then(() => script(stream))
        .catch((error: unknown) => {
          if (!(error instanceof StreamEnded)) {
            process.stderr.write(`fake ext_proc script failed: ${error instanceof Error ? error.stack : String(error)}\n`);
          }
        });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort))),
  );
  return {
    target: `127.0.0.1:${port}`,
    streams,
    waitForStreams: async (count, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (streams.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${streams.length} of ${count} ext_proc streams opened`);
        await new Promise<void>((resolve) => {
          streamWaiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return streams.slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 500).unref();
      }),
  };
}
