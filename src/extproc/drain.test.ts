import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ConfigStore } from '../config/store.js';
import type { ProcessingRequest } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { loadServiceProtos } from '../protos/load.js';
import { configFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { startExtProcServer } from './server.js';
import { CHAT_HEADERS, requestBody, requestHeaders } from './testing.js';

const store = new ConfigStore('unused.yaml', configFromYaml(TWO_BACKENDS_YAML), { PRIMARY_KEY: 'k' });
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });

/** A Process stream driven step by step: send a message, wait for its response, half-close, read the status. */
class OpenStream {
  readonly status: Promise<grpc.status>;
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output>;
  readonly #responses: ProcessingResponse__Output[] = [];
  #wake: (() => void) | undefined;

  constructor(target: string) {
    const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
    const client = new Client(target, grpc.credentials.createInsecure());
    this.#client = client;
    this.#call = client.Process();
    this.#call.on('data', (response: ProcessingResponse__Output) => {
      this.#responses.push(response);
      this.#wake?.();
    });
    this.#call.on('error', () => undefined); // the status event carries the outcome
    this.status = new Promise((resolve) =>
      this.#call.on('status', (status: grpc.StatusObject) => resolve(status.code)),
    );
  }

  /** Takes the testing helpers' messages (typed as decoded output, which is wire-compatible). */
  async send(message: object): Promise<ProcessingResponse__Output> {
    const before = this.#responses.length;
    this.#call.write(message);
    while (this.#responses.length === before) await new Promise<void>((resolve) => (this.#wake = resolve));
    const response = this.#responses[before];
    assert.ok(response);
    return response;
  }

  halfClose(): void {
    this.#call.end();
  }

  close(): void {
    this.#client.close();
  }
}

test('draining: an open stream finishes while new streams get UNAVAILABLE; the drain ends without cutting anything', async (t) => {
  const server = await startExtProcServer(store, '127.0.0.1:0');
  const target = `127.0.0.1:${server.port}`;
  const inFlight = new OpenStream(target);
  t.after(async () => {
    inFlight.close();
    await server.close();
  });
  assert.equal((await inFlight.send(requestHeaders(CHAT_HEADERS))).response, 'request_headers');
  const drained = server.drain(10_000);

  const fresh = new OpenStream(target);
  fresh.halfClose();
  assert.equal(await fresh.status, grpc.status.UNAVAILABLE);
  fresh.close();

  // The in-flight stream is not disturbed: it goes on and completes with OK.
  assert.equal((await inFlight.send(requestBody(BODY))).response, 'request_body');
  inFlight.halfClose();
  assert.equal(await inFlight.status, grpc.status.OK);
  assert.deepEqual(await drained, { forced: false, cutStreams: 0 });
});

test('draining: a stream that never finishes is cut when the bound runs out, and the server stops', async (t) => {
  const server = await startExtProcServer(store, '127.0.0.1:0');
  const target = `127.0.0.1:${server.port}`;
  const stuck = new OpenStream(target);
  t.after(() => stuck.close());
  await stuck.send(requestHeaders(CHAT_HEADERS));
  const started = Date.now();
  const outcome = await server.drain(300);
  const took = Date.now() - started;
  assert.deepEqual(outcome, { forced: true, cutStreams: 1 });
  assert.ok(took >= 250 && took < 2000, `drain took ${took} ms`);
  assert.notEqual(await stuck.status, grpc.status.OK);
  // Stopped for good: nothing listens any more.
  const late = new OpenStream(target);
  late.halfClose();
  assert.equal(await late.status, grpc.status.UNAVAILABLE);
  late.close();
  assert.deepEqual(await server.drain(10_000), outcome, 'a second drain returns the first outcome');
});
