// The event-stream decoder, fed messages encoded by the independent @smithy/eventstream-codec encoder (and, for
// corrupt input, frames built here by the format's definition).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { Int64 } from '@smithy/eventstream-codec';
import { splitAt } from '../testing/splits.js';
import { EventStreamDecoder, type EventStreamMessage } from './eventstream.js';
import { encodeEvents, encodeMessage, TOOL_EVENTS } from './fixtures.js';

function decodeAll(chunks: readonly Buffer[]): {
  messages: EventStreamMessage[];
  error: string | undefined;
  pending: number;
} {
  const decoder = new EventStreamDecoder();
  const messages: EventStreamMessage[] = [];
  let error: string | undefined;
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    messages.push(...result.messages);
    error ??= result.error;
  }
  return { messages, error, pending: decoder.pendingBytes };
}

/** A frame built by the format's definition: [total][headers length][prelude CRC][headers][payload][message CRC]. */
function frame(headers: Buffer, payload: Buffer): Buffer {
  const total = 16 + headers.length + payload.length;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headers.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headers, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([body, crc]);
}

const view = (m: EventStreamMessage) => ({ headers: Object.fromEntries(m.headers), payload: m.payload.toString() });

describe('event-stream decoding', () => {
  const stream = Buffer.concat(encodeEvents(TOOL_EVENTS));
  const whole = decodeAll([stream]);

  test('decodes every message with its string headers and JSON payload', () => {
    assert.equal(whole.error, undefined);
    assert.equal(whole.messages.length, TOOL_EVENTS.length);
    const first = whole.messages[0]!;
    assert.equal(first.headers.get(':message-type'), 'event');
    assert.equal(first.headers.get(':event-type'), 'messageStart');
    assert.equal(first.headers.get(':content-type'), 'application/json');
    assert.equal(JSON.parse(first.payload.toString()).role, 'assistant');
  });

  test('gives the same messages when the bytes are split at any single boundary', () => {
    const expected = whole.messages.map(view);
    for (let cut = 1; cut < stream.length; cut++) {
      const result = decodeAll(splitAt(stream, [cut]));
      assert.deepEqual(result.messages.map(view), expected, `split at ${cut}`);
      assert.equal(result.pending, 0);
    }
  });

  test('gives the same messages when fed one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(decodeAll(bytes).messages.map(view), whole.messages.map(view));
  });

  test('reads every header value type, so unknown headers are skipped with the right length', () => {
    const bytes = encodeMessage({
      headers: {
        'x-true': { type: 'boolean', value: true },
        'x-false': { type: 'boolean', value: false },
        'x-byte': { type: 'byte', value: -7 },
        'x-short': { type: 'short', value: -300 },
        'x-int': { type: 'integer', value: 70_000 },
        'x-long': { type: 'long', value: Int64.fromNumber(-5_000_000_000) },
        'x-bytes': { type: 'binary', value: new Uint8Array([1, 2, 3]) },
        'x-time': { type: 'timestamp', value: new Date(1_700_000_000_123) },
        'x-uuid': { type: 'uuid', value: '12345678-1234-5678-9abc-def012345678' },
        ':event-type': { type: 'string', value: 'messageStop' },
      },
      body: Buffer.from('{"stopReason":"end_turn"}'),
    });
    const [message] = decodeAll(splitAt(bytes, [5, 40, 41])).messages;
    assert.ok(message);
    assert.equal(message.headers.get('x-true'), true);
    assert.equal(message.headers.get('x-false'), false);
    assert.equal(message.headers.get('x-byte'), -7);
    assert.equal(message.headers.get('x-short'), -300);
    assert.equal(message.headers.get('x-int'), 70_000);
    assert.equal(message.headers.get('x-long'), -5_000_000_000n);
    assert.deepEqual(message.headers.get('x-bytes'), Buffer.from([1, 2, 3]));
    assert.equal(message.headers.get('x-time'), 1_700_000_000_123n);
    assert.equal((message.headers.get('x-uuid') as Buffer).toString('hex'), '12345678123456789abcdef012345678');
    assert.equal(message.headers.get(':event-type'), 'messageStop');
    assert.equal(message.payload.toString(), '{"stopReason":"end_turn"}');
  });

  test('a message without headers or payload is valid', () => {
    const { messages, error } = decodeAll([frame(Buffer.alloc(0), Buffer.alloc(0))]);
    assert.equal(error, undefined);
    assert.equal(messages[0]?.headers.size, 0);
    assert.equal(messages[0]?.payload.length, 0);
  });

  test('a payload checksum mismatch is an error; the messages before it are still delivered', () => {
    const corrupt = Buffer.from(stream);
    const [first, second] = encodeEvents(TOOL_EVENTS);
    const lastPayloadByte = first!.length + second!.length - 5; // just before the 2nd message's CRC
    corrupt[lastPayloadByte] = corrupt[lastPayloadByte]! ^ 0xff;
    const result = decodeAll([corrupt]);
    assert.equal(result.error, 'message checksum mismatch');
    assert.deepEqual(result.messages.map(view), whole.messages.slice(0, 1).map(view));
  });

  test('a prelude checksum mismatch is an error before the length is trusted', () => {
    const corrupt = Buffer.from(stream);
    corrupt[2] = 0x7f; // the first message now claims a huge length
    const result = decodeAll([corrupt]);
    assert.equal(result.error, 'prelude checksum mismatch');
    assert.equal(result.messages.length, 0);
  });

  test('after an error the decoder yields nothing more', () => {
    const decoder = new EventStreamDecoder();
    const corrupt = Buffer.from(stream.subarray(0, 20));
    corrupt[9] = corrupt[9]! ^ 1;
    assert.ok(decoder.push(corrupt).error);
    assert.deepEqual(decoder.push(stream), { messages: [], error: undefined });
  });

  test('an unknown header type cannot be skipped and is an error', () => {
    const headers = Buffer.concat([Buffer.from([4]), Buffer.from('x-no'), Buffer.from([10, 0, 0])]);
    assert.equal(decodeAll([frame(headers, Buffer.from('{}'))]).error, 'unknown header value type 10');
  });

  test('a header running past its section is an error', () => {
    const headers = Buffer.concat([Buffer.from([2]), Buffer.from('x1'), Buffer.from([7, 0, 50]), Buffer.from('short')]);
    assert.match(decodeAll([frame(headers, Buffer.from('{}'))]).error ?? '', /runs past/);
  });

  test('impossible lengths are errors even with a valid prelude checksum', () => {
    const prelude = Buffer.alloc(12);
    prelude.writeUInt32BE(10, 0); // shorter than the 16 bytes of framing
    prelude.writeUInt32BE(0, 4);
    prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
    assert.match(decodeAll([prelude]).error ?? '', /message length 10 out of range/);
    prelude.writeUInt32BE(20, 0);
    prelude.writeUInt32BE(8, 4); // headers longer than the message allows
    prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
    assert.match(decodeAll([prelude]).error ?? '', /headers length 8 out of range/);
  });

  test('an incomplete message waits, and is visible as pending bytes', () => {
    const result = decodeAll([stream.subarray(0, stream.length - 3)]);
    assert.equal(result.error, undefined);
    assert.equal(result.messages.length, TOOL_EVENTS.length - 1);
    assert.ok(result.pending > 0);
  });
});
