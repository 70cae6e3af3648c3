// Compile-time conformance: tsc fails this file if what the gateway sends Anthropic stops being assignable to the
// official Anthropic SDK's request types, or what it returns to clients stops being assignable to the official
// OpenAI SDK's response types. The run-time tests only make sure the checks are exercised with real values.
//
// One gap, by necessity: SDK 1.x speaks API version 2026-10-21, which removed temperature/top_p, so those two
// (sent only under 2023-06-01) have no SDK type to check against; structural typing lets them through here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  MessageCreateParamsBase,
  TextBlockParam,
  Tool,
  ToolChoice,
  ContentBlockParam,
  MessageParam,
} from '@anthropic-ai/sdk/resources/messages';
import type {
  ChatCompletion as OpenAIChatCompletion,
  ChatCompletionChunk as OpenAIChatCompletionChunk,
} from 'openai/resources/chat/completions';
import { parseChatRequest } from '../../unified/chat-request.js';
import { TEXT_MESSAGE } from './fixtures.js';
import { toAnthropicRequest } from './request.js';
import { toChatCompletion, type ChatCompletion } from './response.js';
import type { ChatCompletionChunk } from './stream.js';
import type {
  AnthropicAssistantBlock,
  AnthropicRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicTurn,
  AnthropicUserBlock,
} from './wire.js';

function asSdkRequest(request: AnthropicRequest): MessageCreateParamsBase {
  return request;
}
function asSdkTurn(turn: AnthropicTurn): MessageParam {
  return turn;
}
function asSdkBlock(block: AnthropicUserBlock | AnthropicAssistantBlock): ContentBlockParam {
  return block;
}
function asSdkSystem(block: AnthropicTextBlock): TextBlockParam {
  return block;
}
function asSdkTool(tool: AnthropicTool): Tool {
  return tool;
}
function asSdkToolChoice(choice: AnthropicToolChoice): ToolChoice {
  return choice;
}
function asOpenAICompletion(completion: ChatCompletion): OpenAIChatCompletion {
  return completion;
}
function asOpenAIChunk(chunk: ChatCompletionChunk): OpenAIChatCompletionChunk {
  return chunk;
}

test('a request using every mapped feature is a valid Anthropic SDK request', () => {
  const unified = parseChatRequest(
    JSON.stringify({
      model: 'claude',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'zoom', arguments: '{"x":1}' } }],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'a cat' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'zoom',
            description: 'Zoom in',
            parameters: { type: 'object', properties: { x: { type: 'number' } } },
            strict: true,
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'a', schema: { type: 'object', properties: {}, additionalProperties: false } },
      },
      reasoning_effort: 'medium',
      stop: ['END'],
      user: 'u-1',
      stream: true,
    }),
  );
  const native = toAnthropicRequest(unified, 'claude-sonnet-4-5', {
    anthropicVersion: '2023-06-01',
    defaultMaxTokens: 4096,
  });
  const sdk = asSdkRequest(native);
  assert.equal(sdk.max_tokens, 4096);
  assert.equal(native.messages.map(asSdkTurn).length, 3);
  for (const turn of native.messages) turn.content.forEach(asSdkBlock);
  native.system?.forEach(asSdkSystem);
  native.tools?.forEach(asSdkTool);
  if (native.tool_choice) assert.equal(asSdkToolChoice(native.tool_choice).type, 'any');
});

test('a translated completion is a valid OpenAI SDK ChatCompletion', () => {
  const request = parseChatRequest(JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }));
  const usage = { promptTokens: 1, completionTokens: 1, totalTokens: 2, cachedPromptTokens: 0, reasoningTokens: 0 };
  const completion = asOpenAICompletion(
    toChatCompletion(TEXT_MESSAGE as unknown as Record<string, unknown>, usage, {
      request,
      clientWantsUsage: false,
      requestId: undefined,
      created: 1,
    }),
  );
  assert.equal(completion.object, 'chat.completion');
  const chunk = asOpenAIChunk({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'claude',
    choices: [{ index: 0, delta: { content: 'x' }, logprobs: null, finish_reason: null }],
  });
  assert.equal(chunk.object, 'chat.completion.chunk');
});
