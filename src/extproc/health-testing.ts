// Test helpers: a real gRPC health client (grpc.health.v1.Health from grpc-health-check's own definition).
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

function method(name: string) {
  const definition = healthService[name];
  if (!definition) throw new Error(`grpc-health-check: ${name} missing from the service definition`);
  return definition;
}
const check = method('Check');
const watch = method('Watch');

type HealthResponse = { readonly status: string };

/** The status Check answers, or the gRPC error code when the call fails (e.g. NOT_FOUND, UNAVAILABLE). */
export function healthCheck(target: string, service: string): Promise<string | grpc.status> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      check.path,
      check.requestSerialize,
      check.responseDeserialize,
      { service },
      (err, response) => {
        client.close();
        resolve(err ? err.code : ((response as HealthResponse | undefined)?.status ?? 'no response'));
      },
    );
  });
}

/** A Watch stream that records every status it hears and how it ended. */
export class HealthWatch {
  readonly statuses: string[] = [];
  readonly ended: Promise<grpc.status>;
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientReadableStream<object>;
  #waiters: Array<() => void> = [];

  constructor(target: string, service: string) {
    this.#client = new grpc.Client(target, grpc.credentials.createInsecure());
    this.#call = this.#client.makeServerStreamRequest(watch.path, watch.requestSerialize, watch.responseDeserialize, {
      service,
    });
    this.#call.on('data', (response: HealthResponse) => {
      this.statuses.push(response.status);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.#call.on('error', () => undefined); // the status event carries the outcome
    this.ended = new Promise((resolve) => this.#call.on('status', (status: grpc.StatusObject) => resolve(status.code)));
  }

  /** Resolves once `count` statuses have arrived (rejects after a few seconds). */
  async heard(count: number): Promise<string[]> {
    const deadline = Date.now() + 5000;
    while (this.statuses.length < count) {
      if (Date.now() > deadline) throw new Error(`heard ${JSON.stringify(this.statuses)}, waiting for ${count}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return [...this.statuses];
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}
