// Test helper: a scripted ExternalProcessor gRPC server on 127.0.0.1 (port 0). Each Process stream runs the
// script with a ScriptedStream that reads what the data plane sent and answers exactly as the test says.
import * as grpc from '@grpc/grpc-js';
import { STAGE_METADATA_KEY } from '../../extproc/contract.js';
import { externalProcessorService } from '../../protos/load.js';
import type { ProcessingRequest__Output } from '../../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HeaderMap__Output } from '../../generated/envoy/config/core/v3/HeaderMap.js';
import { ScriptableStream, stageScripts, StreamEnded, StreamLog } from './script.js';

export { continueFor, passThrough } from './script.js';

type ServerCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

function stageOf(call: ServerCall): string {
  const stage = call.metadata.get(STAGE_METADATA_KEY)[0];
  return typeof stage === 'string' ? stage : '';
}

export class ScriptedStream extends ScriptableStream {
  /** Resolves when the data plane half-closes its side (Envoy's closeStream). */
  readonly halfClosed: Promise<void>;
  /** Resolves when the data plane cancels (resets) the stream. */
  readonly cancelled: Promise<void>;
  isCancelled = false;
  isHalfClosed = false;
  private finishedByServer = false;

  constructor(private readonly call: ServerCall) {
    super(stageOf(call));
    call.on('data', (message: ProcessingRequest__Output) => this.deliver(message));
    this.halfClosed = new Promise((resolve) =>
      call.on('end', () => {
        this.isHalfClosed = true;
        this.inboxEnded('the data plane half-closed the stream');
        resolve();
      }),
    );
    this.cancelled = new Promise((resolve) =>
      call.on('cancelled', () => {
        this.isCancelled = true;
        this.inboxEnded('the data plane cancelled the stream');
        resolve();
      }),
    );
    call.on('error', () => {});
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
}

export type Script = (stream: ScriptedStream) => Promise<void> | void;

/** A script per stage; stages without one pass through. */
export const byStage: (scripts: { router?: Script; upstream?: Script }) => Script = stageScripts;

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

export async function startFakeExtProc(script: Script): Promise<FakeExtProc> {
  const server = new grpc.Server();
  const log = new StreamLog<ScriptedStream>();
  server.addService(externalProcessorService(), {
    Process: (call: ServerCall) => {
      const stream = new ScriptedStream(call);
      log.add(stream);
      Promise.resolve()
        .then(() => script(stream))
        .catch((error: unknown) => {
          if (!(error instanceof StreamEnded)) {
            process.stderr.write(
              `fake ext_proc script failed: ${error instanceof Error ? error.stack : String(error)}\n`,
            );
          }
        });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    ),
  );
  return {
    target: `127.0.0.1:${port}`,
    streams: log.streams,
    waitForStreams: (count, timeoutMs) => log.waitFor(count, timeoutMs),
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
