import { test } from 'node:test';
import assert from 'node:assert/strict';
import { everyByte, splitAt } from '../providers/testing/splits.js';
import { SseDecoder, parseSseEvent } from './sse.js';

const STREAM = Buffer.from(
  'data: {"a":1}\n\n' +
    ': keep-alive comment\n\n' +
    'event: message_start\ndata: {"b":2}\n\n' +
    'data: line1\ndata: line2\n\n' +
    'data: [DONE]\n\n',
);

function decodeInPieces(bytes: Buffer, cuts: number[]) {
  const decoder = new SseDecoder();
  const events = [];
  for (const piece of splitAt(bytes, cuts)) events.push(...decoder.push(piece));
  return { events, rest: decoder.end() };
}

test('events are yielded whole, with their raw bytes', () => {
  const { events, rest } = decodeInPieces(STREAM, []);
  assert.equal(rest.length, 0);
  assert.deepEqual(
    events.map((e) => e.data),
    ['{"a":1}', '', '{"b":2}', 'line1\nline2', '[DONE]'],
  );
  assert.equal(events[2]?.event, 'message_start');
  assert.deepEqual(Buffer.concat(events.map((e) => e.raw)), STREAM);
});

test('every single split point gives the same events', () => {
  const whole = decodeInPieces(STREAM, []).events.map((e) => e.raw.toString());
  for (let cut = 1; cut < STREAM.length; cut++) {
    assert.deepEqual(
      decodeInPieces(STREAM, [cut]).events.map((e) => e.raw.toString()),
      whole,
      `cut at ${cut}`,
    );
  }
});

test('byte-at-a-time feeding gives the same events', () => {
  const cuts = everyByte(STREAM.length);
  assert.deepEqual(
    decodeInPieces(STREAM, cuts).events.map((e) => e.data),
    decodeInPieces(STREAM, []).events.map((e) => e.data),
  );
});

test('CRLF and CR line endings are understood at every split point', () => {
  const crlf = Buffer.from('data: x\r\n\r\ndata: y\r\n\r\n');
  const cr = Buffer.from('data: x\r\rdata: y\r\r');
  for (const bytes of [crlf, cr]) {
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(
        decodeInPieces(bytes, cut === 0 ? [] : [cut]).events.map((e) => e.data),
        ['x', 'y'],
        `${JSON.stringify(bytes.toString())} cut ${cut}`,
      );
    }
  }
});

test('an unterminated tail is returned by end()', () => {
  const { events, rest } = decodeInPieces(Buffer.from('data: a\n\ndata: partial'), []);
  assert.equal(events.length, 1);
  assert.equal(rest.toString(), 'data: partial');
});

test('a field without a space after the colon keeps its value', () => {
  assert.equal(parseSseEvent(Buffer.from('data:{"x":1}\n\n')).data, '{"x":1}');
});
