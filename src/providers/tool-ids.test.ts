import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../unified/chat-request.js';
import { toConverseRequest } from './bedrock/request.js';
import { openAIRequestBody } from './openai/request.js';
import { BEDROCK_TOOL_IDS, OPENAI_TOOL_IDS, rewriteToolCallIds } from './tool-ids.js';

const conversationWith = (id: string) => [
  { role: 'user', content: 'weather?' },
  {
    role: 'assistant',
    content: null,
    tool_calls: [{ id, type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
  },
  { role: 'tool', tool_call_id: id, content: '{"temp":21}' },
];

test('ids every provider accepts are left alone, without copying the conversation', () => {
  const messages = conversationWith('call_abc123');
  assert.equal(rewriteToolCallIds(messages, OPENAI_TOOL_IDS), messages);
  assert.equal(rewriteToolCallIds(messages, BEDROCK_TOOL_IDS), messages);
});

test('a Gemini-3 signed id (hundreds of characters) becomes an OpenAI-sized id, the same for the call and its result', () => {
  const long = `call_0_0_resp__sig_${'A'.repeat(300)}`;
  const body = openAIRequestBody(
    parseChatRequest(JSON.stringify({ model: 'm', messages: conversationWith(long) })),
    'gpt-4o',
  );
  const messages = body.messages as Array<{ tool_calls?: Array<{ id: string }>; tool_call_id?: string }>;
  const callId = messages[1]!.tool_calls![0]!.id;
  assert.ok(callId.length <= 40, callId);
  assert.equal(messages[2]!.tool_call_id, callId);
});

test('Bedrock gets toolUseIds in its [a-zA-Z0-9_-]{1,64} form, consistently', () => {
  const tools = [
    {
      type: 'function',
      function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    },
  ];
  const converse = toConverseRequest(
    parseChatRequest(JSON.stringify({ model: 'm', messages: conversationWith('functions.weather:0'), tools })),
  );
  const json = JSON.stringify(converse);
  const ids = [...json.matchAll(/"toolUseId":"([^"]+)"/g)].map((m) => m[1]);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
  assert.match(ids[0]!, /^[a-zA-Z0-9_-]{1,64}$/);
});
