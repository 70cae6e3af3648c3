// Cohere v2 Chat responses for tests, written from the documented wire shapes. Each fixture is typed against the
// SDK's Raw types (sdk-wire.ts), so a fixture that drifts from the documented format fails to compile.
import type { V2ChatResponseRaw, V2ChatStreamResponseRaw } from './sdk-wire.js';

export const TEXT_RESPONSE: V2ChatResponseRaw = {
  id: '5a50480a-cf52-46f0-af01-53d18539bd31',
  finish_reason: 'COMPLETE',
  message: { role: 'assistant', content: [{ type: 'text', text: 'Hello from Cohere.' }] },
  usage: {
    billed_units: { input_tokens: 5, output_tokens: 4 },
    tokens: { input_tokens: 71, output_tokens: 4 },
    cached_tokens: 64,
  },
};

export const TOOL_RESPONSE: V2ChatResponseRaw = {
  id: 'b3a9b6a6-0f8e-4a0e-9a51-2f7f0e1c2d3e',
  finish_reason: 'TOOL_CALL',
  message: {
    role: 'assistant',
    tool_plan: 'I will look up the weather in Paris and in Oslo.',
    tool_calls: [
      {
        id: 'get_weather_p2k9x7m1qz0a',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
      {
        id: 'get_weather_h4v8c2n6rt1b',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
      },
      { id: 'get_time_9fjw2k1d8s7e', type: 'function', function: { name: 'get_time', arguments: 'null' } },
    ],
  },
  usage: {
    billed_units: { input_tokens: 40, output_tokens: 31 },
    tokens: { input_tokens: 1210, output_tokens: 62 },
    cached_tokens: 0,
  },
};

/** The stream framing Cohere documents: `event: <type>` and a `data:` line holding the same typed object. */
export function sse(events: readonly V2ChatStreamResponseRaw[]): string {
  return events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join('');
}

export const TEXT_STREAM_EVENTS: V2ChatStreamResponseRaw[] = [
  { type: 'message-start', id: '29f14a5a-11de-4cae-9800-25e4747408ea', delta: { message: { role: 'assistant' } } },
  { type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } },
  { type: 'content-delta', index: 0, delta: { message: { content: { text: 'Hello' } } } },
  { type: 'content-delta', index: 0, delta: { message: { content: { text: ' wörld' } } } },
  { type: 'content-delta', index: 0, delta: { message: { content: { text: ' – ok.' } } } },
  { type: 'content-end', index: 0 },
  {
    type: 'message-end',
    delta: {
      finish_reason: 'COMPLETE',
      usage: {
        billed_units: { input_tokens: 3, output_tokens: 5 },
        tokens: { input_tokens: 69, output_tokens: 5 },
        cached_tokens: 64,
      },
    },
  },
];

export const TOOL_STREAM_EVENTS: V2ChatStreamResponseRaw[] = [
  { type: 'message-start', id: '7e0d2a40-8a44-4f4e-b7a2-3c2d1b0a9f88', delta: { message: { role: 'assistant' } } },
  { type: 'tool-plan-delta', delta: { message: { tool_plan: 'I will check' } } },
  { type: 'tool-plan-delta', delta: { message: { tool_plan: ' the weather.' } } },
  {
    type: 'tool-call-start',
    index: 0,
    delta: {
      message: {
        tool_calls: {
          id: 'get_weather_p2k9x7m1qz0a',
          type: 'function',
          function: { name: 'get_weather', arguments: '' },
        },
      },
    },
  },
  { type: 'tool-call-delta', index: 0, delta: { message: { tool_calls: { function: { arguments: '{"ci' } } } } },
  { type: 'tool-call-delta', index: 0, delta: { message: { tool_calls: { function: { arguments: 'ty": "Par' } } } } },
  { type: 'tool-call-delta', index: 0, delta: { message: { tool_calls: { function: { arguments: 'is"}' } } } } },
  { type: 'tool-call-end', index: 0 },
  {
    type: 'tool-call-start',
    index: 1,
    delta: {
      message: {
        tool_calls: { id: 'get_time_9fjw2k1d8s7e', type: 'function', function: { name: 'get_time', arguments: '' } },
      },
    },
  },
  { type: 'tool-call-delta', index: 1, delta: { message: { tool_calls: { function: { arguments: 'nu' } } } } },
  { type: 'tool-call-delta', index: 1, delta: { message: { tool_calls: { function: { arguments: 'll' } } } } },
  { type: 'tool-call-end', index: 1 },
  {
    type: 'message-end',
    delta: {
      finish_reason: 'TOOL_CALL',
      usage: {
        billed_units: { input_tokens: 40, output_tokens: 20 },
        tokens: { input_tokens: 1210, output_tokens: 41 },
        cached_tokens: 1024,
      },
    },
  },
];

export const ERROR_STREAM_EVENTS: V2ChatStreamResponseRaw[] = [
  { type: 'message-start', id: 'c1f0e2d3-0000-4000-8000-000000000001', delta: { message: { role: 'assistant' } } },
  { type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } },
  { type: 'content-delta', index: 0, delta: { message: { content: { text: 'Partial' } } } },
  { type: 'message-end', delta: { finish_reason: 'ERROR', error: 'internal model failure' } },
];

/** Citations and thinking: neither reaches the client (no OpenAI counterpart). */
export const THINKING_AND_CITATION_EVENTS: V2ChatStreamResponseRaw[] = [
  { type: 'message-start', id: 'd2e3f4a5-0000-4000-8000-000000000002', delta: { message: { role: 'assistant' } } },
  { type: 'content-start', index: 0, delta: { message: { content: { type: 'thinking', thinking: '' } } } },
  { type: 'content-delta', index: 0, delta: { message: { content: { thinking: 'The user wants…' } } } },
  { type: 'content-end', index: 0 },
  { type: 'content-start', index: 1, delta: { message: { content: { type: 'text', text: '' } } } },
  { type: 'content-delta', index: 1, delta: { message: { content: { text: 'Answer.' } } } },
  {
    type: 'citation-start',
    index: 0,
    delta: { message: { citations: { start: 0, end: 6, text: 'Answer', sources: [] } } },
  },
  { type: 'citation-end', index: 0 },
  { type: 'content-end', index: 1 },
  {
    type: 'message-end',
    delta: { finish_reason: 'MAX_TOKENS', usage: { tokens: { input_tokens: 10, output_tokens: 12 } } },
  },
];
