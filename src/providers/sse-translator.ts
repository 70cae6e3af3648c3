// The frame of every translator whose upstream speaks SSE with its own events (Anthropic, Gemini, Cohere): Envoy's
// chunks go through one SseEventFeed, so a subclass only says what each whole event becomes and what the end of
// the stream still owes (a finish, an error, [DONE]).
import { SseEventFeed, type SseEvent } from '../unified/sse.js';
import type { Usage } from '../unified/usage.js';
import type { StreamTranslator } from './provider.js';

export abstract class SseStreamTranslator implements StreamTranslator {
  readonly #events = new SseEventFeed((event, out) => this.onEvent(event, out));

  abstract get usage(): Usage | undefined;

  /** Appends to `out` what one whole upstream event becomes (possibly nothing). */
  protected abstract onEvent(event: SseEvent, out: string[]): void;

  /** Called once, after the tail's events: appends what the client is still owed. */
  protected abstract onEnd(out: string[]): void;

  push(chunk: Buffer): Buffer {
    return Buffer.from(this.#events.push(chunk).join(''));
  }

  end(): Buffer {
    const out = this.#events.end();
    this.onEnd(out);
    return Buffer.from(out.join(''));
  }
}
