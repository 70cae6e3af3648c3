// Server-sent events, byte-exact. Envoy hands us response chunks with arbitrary boundaries, so the decoder keeps
// the incomplete tail and yields only whole events, each with its raw bytes for zero-copy passthrough.

export interface SseEvent {
  /** The event's bytes including its blank-line terminator, exactly as received (a view, not a copy). */
  readonly raw: Buffer;
  /** `event:` field, if any (decoded on first access). */
  readonly event: string | undefined;
  /** `data:` lines joined with "\n" (SSE rules); empty string when the event has no data (decoded on first access). */
  readonly data: string;
}

const LF = 0x0a;
const CR = 0x0d;

/** Index just past the blank line that ends the first event in buf[from..], or -1. Handles \n\n, \r\n\r\n, \r\r. */
function findEventEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (c === LF) {
      if (buf[i + 1] === LF) return i + 2;
      if (buf[i + 1] === CR && buf[i + 2] === LF) return i + 3;
    } else if (c === CR) {
      if (buf[i + 1] === LF) {
        if (buf[i + 2] === CR && buf[i + 3] === LF) return i + 4;
        if (buf[i + 2] === LF) return i + 3;
      } else if (buf[i + 1] === CR) {
        return i + 2;
      }
    }
  }
  return -1;
}

function parseFields(raw: Buffer): { event: string | undefined; data: string } {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of raw.toString('utf8').split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  return { event, data: data.join('\n') };
}

/** Fields are decoded lazily: on the hot path most events are only located and passed through. */
class LazySseEvent implements SseEvent {
  #fields: { event: string | undefined; data: string } | undefined;
  constructor(readonly raw: Buffer) {}
  get event(): string | undefined {
    return (this.#fields ??= parseFields(this.raw)).event;
  }
  get data(): string {
    return (this.#fields ??= parseFields(this.raw)).data;
  }
}

export function parseSseEvent(raw: Buffer): SseEvent {
  return new LazySseEvent(raw);
}

export class SseDecoder {
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds one chunk; returns the events it completed. */
  push(chunk: Buffer): SseEvent[] {
    const buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const events: SseEvent[] = [];
    // Resume the terminator search a few bytes before the old tail so a terminator split across chunks is found.
    let start = 0;
    let end = findEventEnd(buf, Math.max(0, this.#pending.length - 3));
    while (end !== -1) {
      events.push(parseSseEvent(buf.subarray(start, end)));
      start = end;
      end = findEventEnd(buf, start);
    }
    this.#pending = start === buf.length ? Buffer.alloc(0) : buf.subarray(start);
    return events;
  }

  /** Bytes of an event not yet terminated. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Ends the stream: returns any unterminated tail (a server that closes without a blank line). */
  end(): Buffer {
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    return rest;
  }
}

/** What a translator writes for one whole event, appended to `out`. */
export type SseEventHandler = (event: SseEvent, out: string[]) => void;

/**
 * The push/end loop of a stream translator that answers each whole SSE event with text: decodes the chunks and
 * hands every completed event to the handler, and at the end of the stream hands it the unterminated tail too (a
 * server may close without the blank line after its last event; that event still counts).
 */
export class SseEventFeed {
  readonly #decoder = new SseDecoder();
  readonly #onEvent: SseEventHandler;

  constructor(onEvent: SseEventHandler) {
    this.#onEvent = onEvent;
  }

  /** Feeds one chunk; returns what the events it completed were translated to. */
  push(chunk: Buffer): string[] {
    const out: string[] = [];
    for (const event of this.#decoder.push(chunk)) this.#onEvent(event, out);
    return out;
  }

  /** Ends the stream; returns what the tail was translated to, for the caller to append what it still owes. */
  end(): string[] {
    const out: string[] = [];
    const tail = this.#decoder.end();
    if (tail.length > 0) this.#onEvent(parseSseEvent(tail), out);
    return out;
  }
}

export function encodeSseData(data: string): string {
  return `data: ${data}\n\n`;
}

/** A data event carrying `value` as JSON: how translators write chunks and error events. */
export function encodeSseJson(value: unknown): string {
  return encodeSseData(JSON.stringify(value));
}

/** The event that ends every OpenAI stream. */
export const SSE_DONE = encodeSseData('[DONE]');
