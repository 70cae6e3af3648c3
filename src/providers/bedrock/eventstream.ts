// Decoder for the AWS event-stream binary framing (application/vnd.amazon.eventstream) that ConverseStream
// answers with. Stateful: Envoy hands over chunks with arbitrary boundaries, so whole messages are yielded once
// all their bytes are in. Both checksums are verified; a corrupt stream is reported, never guessed at.
//
//   message = [total length u32][headers length u32][CRC32 of the 8 bytes before][headers][payload][CRC32 of all before]
//   header  = [name length u8][name][type u8][value]
import { crc32 } from 'node:zlib';

export type HeaderValue = boolean | number | bigint | string | Buffer;

export interface EventStreamMessage {
  readonly headers: ReadonlyMap<string, HeaderValue>;
  readonly payload: Buffer;
}

export interface DecodeResult {
  readonly messages: EventStreamMessage[];
  /** Set when the stream is corrupt; the decoder yields nothing more afterwards. */
  readonly error: string | undefined;
}

const PRELUDE_BYTES = 12;
const OVERHEAD_BYTES = PRELUDE_BYTES + 4;
/** The format's limits: 16 MiB per message, 128 KiB of headers. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_HEADER_BYTES = 128 * 1024;

class CorruptStream extends Error {}

/** Value sizes of the fixed-width header types; 6 (bytes) and 7 (string) carry a u16 length instead. */
const FIXED_SIZES: Readonly<Record<number, number>> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

function readHeaderValue(bytes: Buffer, type: number, at: number): { value: HeaderValue; end: number } {
  const fixed = FIXED_SIZES[type];
  if (fixed !== undefined) {
    const end = at + fixed;
    if (end > bytes.length) throw new CorruptStream('a header value runs past the headers section');
    switch (type) {
      case 0:
        return { value: true, end };
      case 1:
        return { value: false, end };
      case 2:
        return { value: bytes.readInt8(at), end };
      case 3:
        return { value: bytes.readInt16BE(at), end };
      case 4:
        return { value: bytes.readInt32BE(at), end };
      case 9: // uuid
        return { value: Buffer.from(bytes.subarray(at, end)), end };
      default: // 5 long, 8 timestamp (int64 milliseconds since the epoch)
        return { value: bytes.readBigInt64BE(at), end };
    }
  }
  if (type === 6 || type === 7) {
    if (at + 2 > bytes.length) throw new CorruptStream('a header value runs past the headers section');
    const start = at + 2;
    const end = start + bytes.readUInt16BE(at);
    if (end > bytes.length) throw new CorruptStream('a header value runs past the headers section');
    const raw = bytes.subarray(start, end);
    return { value: type === 7 ? raw.toString('utf8') : Buffer.from(raw), end };
  }
  // Without knowing the type we cannot know its length, so nothing after it can be read.
  throw new CorruptStream(`unknown header value type ${type}`);
}

export function decodeHeaders(bytes: Buffer): Map<string, HeaderValue> {
  const headers = new Map<string, HeaderValue>();
  let at = 0;
  while (at < bytes.length) {
    const nameLength = bytes.readUInt8(at);
    const nameEnd = at + 1 + nameLength;
    if (nameLength === 0 || nameEnd + 1 > bytes.length)
      throw new CorruptStream('a header name runs past the headers section');
    const name = bytes.toString('utf8', at + 1, nameEnd);
    const { value, end } = readHeaderValue(bytes, bytes.readUInt8(nameEnd), nameEnd + 1);
    headers.set(name, value);
    at = end;
  }
  return headers;
}

/** Total length of the message starting at `at`, after checking its prelude. */
function messageLength(buf: Buffer, at: number): number {
  const total = buf.readUInt32BE(at);
  const headersLength = buf.readUInt32BE(at + 4);
  if (crc32(buf.subarray(at, at + 8)) !== buf.readUInt32BE(at + 8))
    throw new CorruptStream('prelude checksum mismatch');
  if (total < OVERHEAD_BYTES || total > MAX_MESSAGE_BYTES)
    throw new CorruptStream(`message length ${total} out of range`);
  if (headersLength > MAX_HEADER_BYTES || headersLength > total - OVERHEAD_BYTES)
    throw new CorruptStream(`headers length ${headersLength} out of range`);
  return total;
}

function decodeMessage(message: Buffer): EventStreamMessage {
  const end = message.length - 4;
  if (crc32(message.subarray(0, end)) !== message.readUInt32BE(end))
    throw new CorruptStream('message checksum mismatch');
  const headersEnd = PRELUDE_BYTES + message.readUInt32BE(4);
  return {
    headers: decodeHeaders(message.subarray(PRELUDE_BYTES, headersEnd)),
    payload: message.subarray(headersEnd, end),
  };
}

export class EventStreamDecoder {
  #chunks: Buffer[] = [];
  #length = 0;
  /** Bytes needed before another message can be read. */
  #need = PRELUDE_BYTES;
  #error: string | undefined;

  push(chunk: Buffer): DecodeResult {
    if (this.#error !== undefined) return { messages: [], error: undefined };
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    if (this.#length < this.#need) return { messages: [], error: undefined };

    // Chunks are joined only once a message is complete, so a message cut into many pieces costs one copy.
    const buf = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#length);
    const messages: EventStreamMessage[] = [];
    let at = 0;
    try {
      for (;;) {
        const available = buf.length - at;
        if (available < PRELUDE_BYTES) {
          this.#need = PRELUDE_BYTES;
          break;
        }
        const total = messageLength(buf, at);
        if (available < total) {
          this.#need = total;
          break;
        }
        messages.push(decodeMessage(buf.subarray(at, at + total)));
        at += total;
      }
    } catch (err) {
      this.#error = err instanceof CorruptStream ? err.message : 'undecodable message';
      this.#chunks = [];
      this.#length = 0;
      return { messages, error: this.#error };
    }
    const rest = buf.subarray(at);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return { messages, error: undefined };
  }

  /** Bytes of a message not yet complete (non-zero at end of stream means the stream was cut). */
  get pendingBytes(): number {
    return this.#length;
  }
}
