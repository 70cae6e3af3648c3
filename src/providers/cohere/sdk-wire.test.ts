// Compile-time contract: the request the gateway builds is assignable to the wire type of Cohere's official SDK
// (transcribed in sdk-wire.ts), and the fields the stream translator reads exist on the SDK's event types. If a
// field is renamed or retyped on either side, `tsc` fails here before any test runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CohereChatRequest, CohereMessage, CohereTool } from './wire.js';
import type { ChatMessageV2Raw, ToolV2Raw, V2ChatRequestRaw, V2ChatStreamResponseRaw } from './sdk-wire.js';
import { toCohereRequest } from './request.js';
import { parseChatRequest } from '../../unified/chat-request.js';

function asSdkRequest(x: CohereChatRequest): V2ChatRequestRaw {
  return x;
}
function asSdkMessage(x: CohereMessage): ChatMessageV2Raw {
  return x;
}
function asSdkTool(x: CohereTool): ToolV2Raw {
  return x;
}
type EventType = V2ChatStreamResponseRaw['type'];
/** Every event type the translator handles by name is one the SDK documents. */
const HANDLED: EventType[] = [
  'message-start',
  'content-delta',
  'tool-plan-delta',
  'tool-call-start',
  'tool-call-delta',
  'tool-call-end',
  'message-end',
];

test('a fully featured request is a valid V2ChatRequest on the wire', () => {
  const request = parseChatRequest(
    JSON.stringify({
      model: 'command',
      stream: true,
      messages: [
        { role: 'system', content: 'S' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'T' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } },
          ],
        },
        {
          role: 'assistant',
          content: 'plan',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' }, strict: true } }],
      tool_choice: 'required',
      response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'object' } } },
      max_completion_tokens: 9,
      stop: ['x'],
      temperature: 0.2,
      top_p: 0.9,
      seed: 1,
      reasoning_effort: 'low',
    }),
  );
  const native = toCohereRequest(request, 'command-a-03-2025');
  const wire = asSdkRequest(native);
  assert.equal(native.messages.map(asSdkMessage).length, 4);
  assert.equal(wire.tools?.length, 1);
  assert.ok(asSdkTool({ type: 'function', function: { name: 'f', parameters: {} } }));
  assert.equal(HANDLED.length, 7);
});
