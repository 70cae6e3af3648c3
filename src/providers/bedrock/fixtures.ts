// Test data only: Bedrock Converse responses and ConverseStream event streams, written from the documented
// service model and typed with the official SDK's types (@aws-sdk/client-bedrock-runtime, a dev dependency), so
// a field the gateway misreads cannot also be misspelt here. Streams are encoded with the independent
// @smithy/eventstream-codec encoder, never with the gateway's own decoder's logic.
import type {
  ContentBlockDeltaEvent,
  ContentBlockStartEvent,
  ContentBlockStopEvent,
  ConverseResponse,
  ConverseStreamMetadataEvent,
  MessageStartEvent,
  MessageStopEvent,
} from '@aws-sdk/client-bedrock-runtime';
import { EventStreamCodec } from '@smithy/eventstream-codec';

/**
 * An SDK type as JSON on the wire: the SDK models blobs (image bytes) as Uint8Array, the restJson1 protocol
 * sends them as base64 strings, and the gateway builds the JSON directly.
 */
export type Wire<T> = T extends Uint8Array
  ? string
  : T extends Date
    ? string
    : T extends ReadonlyArray<infer U>
      ? Array<Wire<U>>
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export type ConverseResponseWire = Wire<ConverseResponse>;

/** One ConverseStream event, keyed by its `:event-type`, or an exception (`:message-type: exception`). */
export type StreamEvent =
  | { messageStart: Wire<MessageStartEvent> }
  | { contentBlockStart: Wire<ContentBlockStartEvent> }
  | { contentBlockDelta: Wire<ContentBlockDeltaEvent> }
  | { contentBlockStop: Wire<ContentBlockStopEvent> }
  | { messageStop: Wire<MessageStopEvent> }
  | { metadata: Wire<ConverseStreamMetadataEvent> }
  | { exception: string; message: string };

// The codec only needs UTF-8 conversions (what @smithy/util-utf8 provides; Buffer does the same).
const codec = new EventStreamCodec(
  (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text: string) => new Uint8Array(Buffer.from(text, 'utf8')),
);

/** Bedrock pads every event payload with a random-length `p` field against traffic analysis. */
function padded(event: object, n: number): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      ...event,
      p: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123'.slice(0, 1 + ((n * 7) % 50)),
    }),
  );
}

/** Encodes each event as one event-stream message. */
export function encodeEvents(events: readonly StreamEvent[]): Buffer[] {
  return events.map((event, n) => {
    if ('exception' in event) {
      return Buffer.from(
        codec.encode({
          headers: {
            ':message-type': { type: 'string', value: 'exception' },
            ':exception-type': { type: 'string', value: event.exception },
            ':content-type': { type: 'string', value: 'application/json' },
          },
          body: Buffer.from(JSON.stringify({ message: event.message })),
        }),
      );
    }
    const [name, payload] = Object.entries(event)[0] as [string, object];
    return Buffer.from(
      codec.encode({
        headers: {
          ':event-type': { type: 'string', value: name },
          ':content-type': { type: 'string', value: 'application/json' },
          ':message-type': { type: 'string', value: 'event' },
        },
        body: padded(payload, n),
      }),
    );
  });
}

export function encodeStream(events: readonly StreamEvent[]): Buffer {
  return Buffer.concat(encodeEvents(events));
}

/** Encodes an arbitrary message (any header types) for decoder tests. */
export function encodeMessage(message: Parameters<EventStreamCodec['encode']>[0]): Buffer {
  return Buffer.from(codec.encode(message));
}

// ── Whole responses ─────────────────────────────────────────────────────────────────────────────────────────

export const TEXT_RESPONSE: ConverseResponseWire = {
  output: { message: { role: 'assistant', content: [{ text: 'Paris is the capital of France.' }] } },
  stopReason: 'end_turn',
  usage: { inputTokens: 12, outputTokens: 8, totalTokens: 130, cacheReadInputTokens: 100, cacheWriteInputTokens: 10 },
  metrics: { latencyMs: 412 },
};

export const TOOL_RESPONSE: ConverseResponseWire = {
  output: {
    message: {
      role: 'assistant',
      content: [
        { text: 'Let me check both cities.' },
        { toolUse: { toolUseId: 'tooluse_Paris01', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } } },
        { toolUse: { toolUseId: 'tooluse_Tokyo02', name: 'get_weather', input: { city: 'Tokyo' } } },
      ],
    },
  },
  stopReason: 'tool_use',
  usage: { inputTokens: 80, outputTokens: 40, totalTokens: 120 },
  metrics: { latencyMs: 800 },
};

export const JSON_RESPONSE: ConverseResponseWire = {
  output: {
    message: {
      role: 'assistant',
      content: [
        {
          toolUse: {
            toolUseId: 'tooluse_json1',
            name: 'json_response',
            input: { name: 'Ada', languages: ['en', 'fr'] },
          },
        },
      ],
    },
  },
  stopReason: 'tool_use',
  usage: { inputTokens: 30, outputTokens: 12, totalTokens: 42 },
  metrics: { latencyMs: 300 },
};

export function stoppedWith(stopReason: ConverseResponseWire['stopReason'], text = 'partial'): ConverseResponseWire {
  return {
    output: { message: { role: 'assistant', content: [{ text }] } },
    stopReason,
    usage: { inputTokens: 5, outputTokens: 3, totalTokens: 8 },
    metrics: { latencyMs: 10 },
  };
}

// ── Streams ─────────────────────────────────────────────────────────────────────────────────────────────────

const METADATA: StreamEvent = {
  metadata: {
    usage: { inputTokens: 12, outputTokens: 4, totalTokens: 126, cacheReadInputTokens: 100, cacheWriteInputTokens: 10 },
    metrics: { latencyMs: 250 },
  },
};

/** Text blocks stream deltas without a contentBlockStart (as live captures show). */
export const TEXT_EVENTS: StreamEvent[] = [
  { messageStart: { role: 'assistant' } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hello' } } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { text: ', wörld ✓' } } },
  { contentBlockStop: { contentBlockIndex: 0 } },
  { messageStop: { stopReason: 'end_turn' } },
  METADATA,
];

/** Text, then two parallel tool calls whose inputs stream as JSON fragments. */
export const TOOL_EVENTS: StreamEvent[] = [
  { messageStart: { role: 'assistant' } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Checking.' } } },
  { contentBlockStop: { contentBlockIndex: 0 } },
  {
    contentBlockStart: {
      contentBlockIndex: 1,
      start: { toolUse: { toolUseId: 'tooluse_Paris01', name: 'get_weather' } },
    },
  },
  { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } } },
  { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } } },
  { contentBlockStop: { contentBlockIndex: 1 } },
  {
    contentBlockStart: {
      contentBlockIndex: 2,
      start: { toolUse: { toolUseId: 'tooluse_Tokyo02', name: 'get_weather' } },
    },
  },
  { contentBlockDelta: { contentBlockIndex: 2, delta: { toolUse: { input: '{"city":"Tokyo"}' } } } },
  { contentBlockStop: { contentBlockIndex: 2 } },
  { messageStop: { stopReason: 'tool_use' } },
  { metadata: { usage: { inputTokens: 80, outputTokens: 40, totalTokens: 120 }, metrics: { latencyMs: 700 } } },
];

/** JSON mode: the forced json_response tool's input is the answer. */
export const JSON_EVENTS: StreamEvent[] = [
  { messageStart: { role: 'assistant' } },
  {
    contentBlockStart: {
      contentBlockIndex: 0,
      start: { toolUse: { toolUseId: 'tooluse_json1', name: 'json_response' } },
    },
  },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '{"name":"Ada",' } } } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '"languages":["en","fr"]}' } } } },
  { contentBlockStop: { contentBlockIndex: 0 } },
  { messageStop: { stopReason: 'tool_use' } },
  { metadata: { usage: { inputTokens: 30, outputTokens: 12, totalTokens: 42 }, metrics: { latencyMs: 300 } } },
];

/** Throttled after the first words: an in-stream exception. */
export const THROTTLED_EVENTS: StreamEvent[] = [
  { messageStart: { role: 'assistant' } },
  { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hel' } } },
  { exception: 'throttlingException', message: 'Too many tokens, please wait before trying again.' },
];
