// The standard gRPC health service (grpc.health.v1.Health, from the official grpc-health-check package) on the
// ext_proc server itself, so Envoy's gRPC health checker and Kubernetes gRPC probes ask the very listener that
// serves Process. The service tells it the serving status; Watch streams hear each change.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { EXT_PROC_SERVICE_NAME } from './contract.js';

/** The whole server ("") and the one service it exposes: both follow readiness. */
export const HEALTH_SERVICE_NAMES = ['', EXT_PROC_SERVICE_NAME] as const;

type HealthServer = Parameters<HealthImplementation['addToServer']>[0];
type WatchCall = grpc.ServerWritableStream<unknown, unknown>;

export class ExtProcHealth {
  #status: ServingStatus = 'NOT_SERVING';
  #closed = false;
  readonly #impl = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICE_NAMES.map((name) => [name, this.#status])),
  );
  readonly #watches = new Set<WatchCall>();

  get status(): ServingStatus {
    return this.#status;
  }

  addTo(server: grpc.Server): void {
    // The package registers handlers itself; wrapping Watch lets shutdown end those streams, which would
    // otherwise hold a graceful shutdown open until its bound.
    const tracking: HealthServer = {
      addService: (service, implementation) => {
        const watch = implementation['watch'] as (call: WatchCall) => void;
        server.addService(service, {
          ...implementation,
          watch: (call: WatchCall) => {
            watch(call);
            if (this.#closed) return endWatch(call);
            this.#watches.add(call);
            call.on('cancelled', () => this.#watches.delete(call)); // grpc-js emits it on every stream close
          },
        });
      },
    };
    this.#impl.addToServer(tracking);
  }

  /** Only changes reach Watch streams; setting the same status again is silent. */
  setServing(serving: boolean): void {
    const status: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
    if (this.#closed || status === this.#status) return;
    this.#status = status;
    for (const name of HEALTH_SERVICE_NAMES) this.#impl.setStatus(name, status);
  }

  /** NOT_SERVING for good, and every Watch stream ended (after it heard so). */
  close(): void {
    this.setServing(false);
    this.#closed = true;
    for (const call of this.#watches) endWatch(call);
    this.#watches.clear();
  }
}

function endWatch(call: WatchCall): void {
  // A Watch never ends on its own; UNAVAILABLE tells the watcher the server went away, not that it is healthy.
  call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server shutting down' });
}
