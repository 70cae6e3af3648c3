// Test helper shared by the two scripted ext_proc servers — fake-extproc.ts (grpc-js, for the stand-in's own tests)
// and parity/fake-processor.ts (hand-framed HTTP/2, for stand-in vs Envoy parity): how a script reads what the data
// plane sent, the stock scripts, and waiting for streams. Scripts written for one read the same for the other.
import type { ProcessingRequest__Output } from '../../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';

export type RequestKind = NonNullable<ProcessingRequest__Output['request']>;

/** The data plane ended the stream while a script waited for a message (not a script failure). */
export class StreamEnded extends Error {
  override readonly name = 'StreamEnded';
}

/**
 * A stream as a script sees it: the data plane's messages, queued until the script asks for them (after the stream
 * ended, asking fails with StreamEnded), and a way to answer, which each fake implements over its transport.
 */
export abstract class ScriptableStream {
  readonly received: ProcessingRequest__Output[] = [];
  readonly #queue: ProcessingRequest__Output[] = [];
  #waiter: { resolve: (m: ProcessingRequest__Output) => void; reject: (e: Error) => void } | undefined;
  #ended = false;

  constructor(readonly stage: string) {}

  abstract send(response: ProcessingResponse): void;

  protected deliver(message: ProcessingRequest__Output): void {
    this.received.push(message);
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w !== undefined) w.resolve(message);
    else this.#queue.push(message);
  }

  /** The data plane's side is over (half-close, cancel, close): a waiting `next` fails with StreamEnded. */
  protected inboxEnded(why: string): void {
    this.#ended = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(new StreamEnded(why));
  }

  /** The next message from the data plane (queued ones first, even after the stream ended). */
  next(timeoutMs = 5_000): Promise<ProcessingRequest__Output> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(new StreamEnded('stream already ended'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no ${this.stage} message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
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
    if (message.request !== kind)
      throw new Error(`${this.stage}: expected ${kind}, got ${message.request ?? 'nothing'}`);
    return message;
  }
}

/** The streams a fake server opened, in order, and a way to wait until `count` have opened. */
export class StreamLog<S> {
  readonly streams: S[] = [];
  readonly #waiters: Array<() => void> = [];

  add(stream: S): void {
    this.streams.push(stream);
    for (const w of this.#waiters.splice(0)) w();
  }

  async waitFor(count: number, timeoutMs = 5_000): Promise<S[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.streams.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.streams.length} of ${count} ext_proc streams opened`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.streams.slice(0, count);
  }
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

/** Answers every message with CONTINUE until the data plane ends the stream. */
export async function passThrough(stream: ScriptableStream): Promise<void> {
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

type ScriptOf<S> = (stream: S) => Promise<void> | void;

/** A script per stage; stages without one pass through. Each fake exports it as `byStage`, typed for its streams. */
export function stageScripts<S extends ScriptableStream>(scripts: {
  router?: ScriptOf<S>;
  upstream?: ScriptOf<S>;
}): ScriptOf<S> {
  return (stream) => {
    const script = stream.stage === 'upstream' ? scripts.upstream : scripts.router;
    return (script ?? passThrough)(stream);
  };
}
