// Does a client that half-closes each ext_proc stream and then resets it (RST_STREAM CANCEL, what Envoy's ext_proc
// filter did before it closed streams gracefully) trip nghttp2's rapid-reset guard on a grpc-js server? nghttp2
// (≥ 1.57, CVE-2023-44487) spends one token per RST_STREAM a server receives, from a bucket of 1000 refilled at 33/s,
// and answers an empty bucket with GOAWAY(INTERNAL_ERROR): every stream opened after it on that connection is refused.
// A bounded loop of raw HTTP/2 streams against a bare grpc-js server (or --target, e.g. the real service); prints counts.
// Usage: node dist/bench/stream-reset.js [--streams 6000] [--concurrency 16] [--rate PER_SEC]
//          [--cancel immediate|after-response|never] [--messages 0|1] [--target HOST:PORT --path /pkg.Svc/Method]
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';

const BARE_PATH = '/bench.StreamReset/Process';
type CancelMode = 'immediate' | 'after-response' | 'never';

interface Settings {
  readonly streams: number;
  readonly concurrency: number;
  readonly ratePerSec: number | undefined;
  readonly cancel: CancelMode;
  readonly messages: 0 | 1;
  readonly target: string | undefined;
  readonly path: string;
}

interface Counts {
  streams: number;
  /** The client sent RST_STREAM(CANCEL): the stream was still open on its side. */
  resetsSent: number;
  /** grpc-status 0 arrived before anything was reset. */
  completedOk: number;
  /** Refused by the server (REFUSED_STREAM after its GOAWAY) or failed to open on a closing connection. */
  refused: number;
  other: number;
  connections: number;
  /** acceptedStreams: streams the server took on that connection before it sent GOAWAY (client ids are odd). */
  goaways: Array<{
    readonly errorCode: number;
    readonly acceptedStreams: number;
    readonly noticedAfterStreams: number;
  }>;
}

function readSettings(): Settings {
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '6000' },
      concurrency: { type: 'string', default: '16' },
      rate: { type: 'string' },
      cancel: { type: 'string', default: 'immediate' },
      messages: { type: 'string', default: '1' },
      target: { type: 'string' },
      path: { type: 'string', default: BARE_PATH },
    },
    strict: true,
  });
  const cancel = values.cancel;
  if (cancel !== 'immediate' && cancel !== 'after-response' && cancel !== 'never')
    throw new Error(`--cancel ${cancel}?`);
  const streams = Math.min(Number(values.streams), 100_000); // bounded whatever is asked
  return {
    streams,
    concurrency: Math.max(1, Number(values.concurrency)),
    ratePerSec: values.rate === undefined ? undefined : Number(values.rate),
    cancel,
    messages: values.messages === '0' ? 0 : 1,
    target: values.target,
    path: values.path,
  };
}

/** A grpc-js server whose one bidi method behaves like ours: answer each message, finish when the client half-closes. */
async function startBareServer(): Promise<{
  readonly server: grpc.Server;
  readonly port: number;
  readonly served: { ended: number; cancelled: number };
}> {
  const identity = (value: Buffer) => value;
  const definition: grpc.ServiceDefinition = {
    Process: {
      path: BARE_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  const served = { ended: 0, cancelled: 0 };
  const server = new grpc.Server();
  server.addService(definition, {
    Process: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => call.write(Buffer.alloc(0)));
      call.on('end', () => {
        served.ended++;
        call.end();
      });
      call.on('cancelled', () => served.cancelled++);
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return { server, port, served };
}

/** An empty gRPC message: uncompressed flag and a zero length. */
const EMPTY_MESSAGE = Buffer.alloc(5);

class Client {
  #session: http2.ClientHttp2Session | undefined;
  #streamsOnSession = 0;
  readonly counts: Counts = {
    streams: 0,
    resetsSent: 0,
    completedOk: 0,
    refused: 0,
    other: 0,
    connections: 0,
    goaways: [],
  };

  constructor(
    private readonly authority: string,
    private readonly settings: Settings,
  ) {}

  #open(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = http2.connect(this.authority);
    this.counts.connections++;
    this.#streamsOnSession = 0;
    session.on('goaway', (errorCode, lastStreamId) => {
      this.counts.goaways.push({
        errorCode,
        acceptedStreams: (lastStreamId + 1) / 2,
        noticedAfterStreams: this.#streamsOnSession,
      });
      if (this.#session === session) this.#session = undefined; // no new stream may start on it
    });
    session.on('error', () => undefined);
    this.#session = session;
    return session;
  }

  /** One stream: request headers, (a message and) END_STREAM, then the reset the mode asks for. */
  run(): Promise<void> {
    this.counts.streams++;
    this.#streamsOnSession++;
    const { cancel, messages, path } = this.settings;
    return new Promise<void>((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.#open().request(
          { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' },
          { endStream: messages === 0 },
        );
      } catch {
        this.counts.refused++;
        this.#session = undefined;
        resolve();
        return;
      }
      let grpcStatus: string | undefined;
      let reset = false;
      const cancelNow = () => {
        if (reset || stream.closed || stream.destroyed) return;
        reset = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      stream.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']); // trailers-only
      });
      stream.on('trailers', (headers) => {
        grpcStatus = String(headers['grpc-status']);
      });
      stream.on('data', () => {
        if (cancel === 'after-response') cancelNow();
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        if (reset && stream.rstCode === http2.constants.NGHTTP2_CANCEL) this.counts.resetsSent++;
        else if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) this.counts.refused++;
        else if (grpcStatus === '0') this.counts.completedOk++;
        else this.counts.other++;
        resolve();
      });
      if (messages === 1) stream.end(EMPTY_MESSAGE);
      if (cancel === 'immediate') cancelNow();
    });
  }

  close(): void {
    this.#session?.close();
  }
}

async function drive(client: Client, settings: Settings): Promise<number> {
  const started = Date.now();
  let next = 0;
  const gapMs = settings.ratePerSec ? 1000 / settings.ratePerSec : 0;
  const worker = async () => {
    while (next < settings.streams) {
      const index = next++;
      if (gapMs > 0) {
        const due = started + index * gapMs;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await client.run();
      // Read what the server sent (its GOAWAY) between streams, as a real client's event loop would.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, worker));
  return (Date.now() - started) / 1000;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const bare = settings.target ? undefined : await startBareServer();
  const authority = `http://${settings.target ?? `127.0.0.1:${bare?.port ?? 0}`}`;
  const client = new Client(authority, settings);
  const seconds = await drive(client, settings);
  // Let both sides see the last frames before reading the counters.
  await new Promise((resolve) => setTimeout(resolve, 200));
  client.close();
  const { goaways, ...counts } = client.counts;
  const report = {
    node: process.version,
    nghttp2: process.versions.nghttp2,
    server: settings.target ?? 'bare grpc-js',
    settings,
    seconds: Math.round(seconds * 100) / 100,
    streamsPerSec: Math.round(counts.streams / seconds),
    ...counts,
    goaways,
    ...(bare ? { serverSaw: bare.served } : {}),
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  bare?.server.forceShutdown();
}

main().catch((err: unknown) => {
  process.stderr.write(`stream-reset: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
