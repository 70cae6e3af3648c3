// Test fixtures only: Anthropic responses written from the documented wire format and typed with the official
// SDK's types, so a fixture that drifts from the format fails to compile. (Type imports only: nothing of the
// SDK is loaded at run time.)
import type { ErrorResponse } from '@anthropic-ai/sdk/resources';
import type {
  ContentBlock,
  Message,
  RawMessageStreamEvent,
  StopReason,
  Usage,
} from '@anthropic-ai/sdk/resources/messages';

/** What travels on an Anthropic stream: the SDK's message events plus `ping` and `error`. */
export type WireEvent = RawMessageStreamEvent | { type: 'ping' } | ErrorResponse;

/** Anthropic's SSE framing: every event is named, and the name repeats the payload's `type`. */
export function anthropicSse(events: readonly WireEvent[]): string {
  return events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join('');
}

export function usage(counts: {
  input: number;
  output: number;
  cacheRead?: number;
  cacheCreation?: number;
  thinking?: number;
}): Usage {
  return {
    input_tokens: counts.input,
    output_tokens: counts.output,
    cache_read_input_tokens: counts.cacheRead ?? 0,
    cache_creation_input_tokens: counts.cacheCreation ?? 0,
    cache_creation: { ephemeral_5m_input_tokens: counts.cacheCreation ?? 0, ephemeral_1h_input_tokens: 0 },
    inference_geo: null,
    output_tokens_details: counts.thinking === undefined ? null : { thinking_tokens: counts.thinking },
    server_tool_use: null,
    service_tier: 'standard',
    speed: null,
  };
}

export function message(id: string, content: ContentBlock[], stopReason: StopReason | null, counts: Usage): Message {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: counts,
  };
}

// ---- Whole responses ----

export const TEXT_MESSAGE = message(
  'msg_01TextAnswer',
  [{ type: 'text', text: 'Hello! How can I help?', citations: null }],
  'end_turn',
  usage({ input: 21, output: 9, cacheRead: 100, cacheCreation: 8 }),
);

export const TOOL_MESSAGE = message(
  'msg_01ToolAnswer',
  [
    { type: 'text', text: 'Let me check both.', citations: null },
    {
      type: 'tool_use',
      id: 'toolu_01Weather',
      name: 'get_weather',
      input: { city: 'Paris', unit: 'celsius' },
      caller: { type: 'direct' },
    },
    { type: 'tool_use', id: 'toolu_02Time', name: 'get_time', input: {}, caller: { type: 'direct' } },
  ],
  'tool_use',
  usage({ input: 310, output: 71 }),
);

export const THINKING_MESSAGE = message(
  'msg_01Thinking',
  [
    { type: 'thinking', thinking: 'The user wants a number.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3h' },
    { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' },
    { type: 'text', text: '42', citations: null },
  ],
  'end_turn',
  usage({ input: 12, output: 150, thinking: 140 }),
);

export const JSON_TOOL_MESSAGE = message(
  'msg_01JsonMode',
  [
    {
      type: 'tool_use',
      id: 'toolu_03Json',
      name: 'json_object_response',
      input: { answer: 42, unit: 'none' },
      caller: { type: 'direct' },
    },
  ],
  'tool_use',
  usage({ input: 40, output: 20 }),
);

// ---- Streams ----

const START = (id: string, counts: Usage): RawMessageStreamEvent => ({
  type: 'message_start',
  message: message(id, [], null, counts),
});

/** Text across several deltas, with multi-byte characters that a byte split can cut in half. */
export const TEXT_STREAM: WireEvent[] = [
  START('msg_01TextStream', usage({ input: 25, output: 1, cacheRead: 1000, cacheCreation: 0 })),
  { type: 'ping' },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ', wörld ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '👋🏽!' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: 25,
      output_tokens: 12,
      cache_read_input_tokens: 1000,
      cache_creation_input_tokens: 0,
      output_tokens_details: null,
      server_tool_use: null,
    },
  },
  { type: 'message_stop' },
];

/**
 * Thinking first (block 0, not shown), then text, then two parallel tool calls at blocks 2 and 3: OpenAI's
 * tool_calls index counts tool_use blocks (0, 1), not Anthropic block indexes. The second tool streams no input.
 */
export const TOOL_STREAM: WireEvent[] = [
  START('msg_01ToolStream', usage({ input: 400, output: 2 })),
  { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Two lookups are needed.' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '', citations: null } },
  { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Checking.' } },
  { type: 'content_block_stop', index: 1 },
  {
    type: 'content_block_start',
    index: 2,
    content_block: {
      type: 'tool_use',
      id: 'toolu_01Weather',
      name: 'get_weather',
      input: {},
      caller: { type: 'direct' },
    },
  },
  { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '' } },
  { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"city": "Pa' } },
  {
    type: 'content_block_delta',
    index: 2,
    delta: { type: 'input_json_delta', partial_json: 'ris", "unit": "celsius"}' },
  },
  { type: 'content_block_stop', index: 2 },
  {
    type: 'content_block_start',
    index: 3,
    content_block: { type: 'tool_use', id: 'toolu_02Time', name: 'get_time', input: {}, caller: { type: 'direct' } },
  },
  { type: 'content_block_stop', index: 3 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: null,
      output_tokens: 95,
      cache_read_input_tokens: null,
      cache_creation_input_tokens: null,
      output_tokens_details: { thinking_tokens: 30 },
      server_tool_use: null,
    },
  },
  { type: 'message_stop' },
];

/** JSON mode (json_object): the forced tool's input is the answer. */
export const JSON_TOOL_STREAM: WireEvent[] = [
  START('msg_01JsonStream', usage({ input: 50, output: 1 })),
  {
    type: 'content_block_start',
    index: 0,
    content_block: {
      type: 'tool_use',
      id: 'toolu_03Json',
      name: 'json_object_response',
      input: {},
      caller: { type: 'direct' },
    },
  },
  { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"answer": ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '42}' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: 50,
      output_tokens: 18,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      output_tokens_details: null,
      server_tool_use: null,
    },
  },
  { type: 'message_stop' },
];

/** Anthropic reports overload inside a stream that already started. */
export const ERROR_STREAM: WireEvent[] = [
  START('msg_01ErrorStream', usage({ input: 10, output: 1 })),
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Par' } },
  { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_011Overloaded' },
];
