// The ExternalProcessor gRPC server. One handler per Process stream; the stage is chosen by the gRPC initial
// metadata Envoy's grpc_service sets, so one server (and one port or socket) serves both filter instances.
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ConfigStore } from '../config/store.js';
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { externalProcessorService } from '../protos/load.js';
import { errorMessage, log } from '../telemetry/log.js';
import { metrics } from '../telemetry/metrics.js';
import { STAGE_METADATA_KEY, type Stage } from './contract.js';
import { RouterStage } from './router-stage.js';
import type { StageHandler, StreamEnd } from './stage.js';
import type { Accounting } from './budget-gate.js';
import { ExtProcHealth } from './health.js';
import { UpstreamStage } from './upstream-stage.js';
import { grpcServerCredentials, type TlsOptions } from '../security/tls.js';

type ProcessCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

function stageOf(call: ProcessCall): Stage {
  const value = call.metadata.get(STAGE_METADATA_KEY)[0];
  return value === 'upstream' ? 'upstream' : 'router';
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** What the stages need besides the config: the budgets when configured (created and replaced by the service). */
export interface StageServices {
  readonly accounting: () => Accounting | undefined;
}

const NO_SERVICES: StageServices = { accounting: () => undefined };

export function handleProcessStream(
  call: ProcessCall,
  store: ConfigStore,
  services: StageServices = NO_SERVICES,
): void {
  const stage = stageOf(call);
  // The config snapshot is fixed for the life of the stream: a reload never changes a request midway.
  const snapshot = store.current();
  const handler: StageHandler =
    stage === 'router' ? new RouterStage(snapshot, services.accounting()) : new UpstreamStage(snapshot);
  metrics.activeStreams.inc({ stage });
  let ended = false;
  // Summed over the stream and observed once: per-message observations cost more than the work they measure.
  let busyNs = 0n;
  const end = (how: StreamEnd) => {
    if (ended) return;
    ended = true;
    metrics.activeStreams.dec({ stage });
    metrics.streamSeconds.observe({ stage }, Number(busyNs) / 1e9);
    handler.close(how);
  };
  const fail = (err: unknown) => {
    log.warn('ext_proc stream failed', { stage, error: errorMessage(err) });
    end('error');
    // grpc-js turns an 'error' event on a server stream into the call's final status (destroy() would not).
    call.emit('error', { code: grpc.status.INTERNAL, details: errorMessage(err) });
  };

  // Responses must leave in request order. Once a step was asynchronous (a budget store call), every later
  // message waits for the one before it; streams that never go async answer synchronously.
  let tail: Promise<void> | undefined;
  const respond = (message: ProcessingRequest__Output): Promise<void> | undefined => {
    if (ended) return undefined;
    const started = process.hrtime.bigint();
    const observe = () => {
      busyNs += process.hrtime.bigint() - started;
    };
    let result: ProcessingResponse | Promise<ProcessingResponse>;
    try {
      result = handler.handle(message);
    } catch (err) {
      fail(err);
      return undefined;
    }
    if (!isPromise(result)) {
      observe();
      call.write(result);
      return undefined;
    }
    return result.then(
      (response) => {
        observe();
        if (!ended) call.write(response);
      },
      (err: unknown) => fail(err),
    );
  };

  call.on('data', (message: ProcessingRequest__Output) => {
    if (tail) tail = tail.then(() => respond(message));
    else tail = respond(message);
  });
  call.on('end', () => {
    const finish = () => {
      if (!ended) call.end();
      end('ended');
    };
    if (tail) void tail.then(finish);
    else finish();
  });
  call.on('cancelled', () => end('cancelled'));
  call.on('error', (err) => {
    log.debug('ext_proc stream error', { stage, error: errorMessage(err) });
    end('cancelled');
  });
}

export interface DrainOutcome {
  /** The bound ran out: the streams still open were cut (forceShutdown). */
  readonly forced: boolean;
  /** Process streams open when the bound ran out (0 when not forced). */
  readonly cutStreams: number;
}

export interface ListeningServer {
  readonly server: grpc.Server;
  /** Port bound for the TCP address (useful when configured with port 0). */
  readonly port: number;
  /** grpc.health.v1.Health on this server: NOT_SERVING until the service says it is ready. */
  readonly health: ExtProcHealth;
  /**
   * Graceful stop: health NOT_SERVING at once; new Process streams still served for `graceMs` (so health checkers
   * notice before anything is refused), then refused with UNAVAILABLE, listeners closed, open streams left to
   * finish for up to `timeoutMs`, then cut. Calling it again returns the same outcome.
   */
  drain(timeoutMs: number, graceMs?: number): Promise<DrainOutcome>;
  /** drain() with a short bound. */
  close(): Promise<void>;
}

/** close()'s bound: streams of clients that vanished would otherwise hold shutdown forever. */
const CLOSE_BOUND_MS = 2000;

export async function startExtProcServer(
  store: ConfigStore,
  address: string,
  unixSocket?: string,
  services: StageServices = NO_SERVICES,
  /** Mutual TLS with a client allowlist on the TCP address (the Unix socket stays plaintext: file permissions guard it). */
  tls?: TlsOptions,
  /** Cluster workers share the primary's socket (src/workers/): removing the file there would orphan it. */
  listenOptions: { readonly removeStaleSocket?: boolean } = {},
): Promise<ListeningServer> {
  // nghttp2's rapid-reset guard (1000 RST_STREAMs, refilled at 33/s) answers a client that resets every stream
  // with GOAWAY; bench/stream-reset.ts reproduces it on Node 20 at ~1,000 resets per connection. It cannot be
  // raised here: grpc-js forwards no streamResetBurst/streamResetRate, and Node 20's http2 has no such options.
  // Envoy 1.40 by default half-closes and resets (RST_STREAM INTERNAL_ERROR) every ext_proc stream without waiting
  // for our status; the generated bootstrap turns on ext_proc_graceful_grpc_close, with which Envoy waits for the
  // status this server sends at the half-close (handleProcessStream's 'end'): zero resets (bench/soak.ts). Ending
  // streams earlier, before Envoy's half-close, makes Envoy reset them again. The bootstrap also rotates ext_proc
  // connections every 500 streams, for Envoys (or Istio sidecars) without the runtime flag.
  const server = new grpc.Server({
    // Bodies can be large (prompts with images); Envoy's own limit applies before ours.
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  let accepting = true;
  let openStreams = 0;
  server.addService(externalProcessorService(), {
    Process: (call: ProcessCall) => {
      if (!accepting) {
        // Draining: Envoy sees a clean UNAVAILABLE (failure_mode_allow decides) instead of a stream that dies midway.
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'llm-extproc is shutting down' });
        return;
      }
      openStreams++;
      call.once('cancelled', () => openStreams--); // grpc-js emits it once when the stream closes, however it ended
      handleProcessStream(call, store, services);
    },
  });
  const health = new ExtProcHealth();
  health.addTo(server);
  const bind = (target: string, credentials: grpc.ServerCredentials) =>
    new Promise<number>((resolve, reject) =>
      server.bindAsync(target, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
  // A refused client retries (Envoy health-checks every second): one line per reason per minute is enough.
  const lastRefusalLog = new Map<string, number>();
  const tcpCredentials = tls
    ? grpcServerCredentials(tls, {
        onRefused: (reason, method) => {
          const now = Date.now();
          if (now - (lastRefusalLog.get(reason) ?? 0) < 60_000) return;
          lastRefusalLog.set(reason, now);
          if (lastRefusalLog.size > 1000) lastRefusalLog.clear();
          log.warn('ext_proc call refused', { method, reason });
        },
        onFileError: (err) =>
          log.warn('extproc TLS files unusable; keeping the previous ones', { error: errorMessage(err) }),
      })
    : grpc.ServerCredentials.createInsecure();
  const port = await bind(address, tcpCredentials);
  if (unixSocket) {
    // A socket file left by a crashed process would block the bind.
    if (listenOptions.removeStaleSocket ?? true) rmSync(unixSocket, { force: true });
    await bind(`unix:${unixSocket}`, grpc.ServerCredentials.createInsecure());
  }
  let drained: Promise<DrainOutcome> | undefined;
  const drain = (timeoutMs: number, graceMs = 0): Promise<DrainOutcome> => {
    drained ??= (async () => {
      // NOT_SERVING first, while still serving: Envoy's health checker (and Kubernetes) stop sending new streams
      // here within their interval; refusing at once would fail the streams they open meanwhile.
      health.close();
      if (graceMs > 0) await new Promise((resolve) => setTimeout(resolve, graceMs));
      return new Promise<DrainOutcome>((resolve) => {
        accepting = false;
        const bound = setTimeout(() => {
          const cutStreams = openStreams;
          server.forceShutdown();
          resolve({ forced: true, cutStreams });
        }, timeoutMs);
        // Closes the listeners and sends GOAWAY; calls back once every open stream has finished.
        server.tryShutdown(() => {
          clearTimeout(bound);
          resolve({ forced: false, cutStreams: 0 });
        });
      });
    })();
    return drained;
  };
  return {
    server,
    port,
    health,
    drain,
    close: async () => {
      await drain(CLOSE_BOUND_MS);
    },
  };
}
