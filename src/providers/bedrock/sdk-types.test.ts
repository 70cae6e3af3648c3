// The Converse body the gateway sends, checked against the official @aws-sdk/client-bedrock-runtime.
//
// 1. At compile time: `ConverseRequest` (wire.ts) must be assignable to the SDK's `ConverseCommandInput` minus
//    `modelId` (it travels in the path), seen through `Wire<…>`. The SDK types blobs (image bytes) as
//    Uint8Array because its serializer base64-encodes them for the restJson1 wire; the gateway writes JSON
//    directly, so its bytes ARE the base64 string. `Wire<T>` (fixtures.ts) swaps exactly Uint8Array for string
//    and leaves every other field, enum and union as the SDK defines it. Assignability lets a misspelt
//    *optional* key through, so each wire type is also checked to have no key the SDK type lacks.
// 2. At run time: the same request is handed to the real SDK client (with the image bytes decoded to a
//    Uint8Array, as an SDK user would), its serialised HTTP request is captured before it leaves, and its path
//    and JSON body must equal the gateway's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ContentBlock as SdkContentBlock,
  type ConverseCommandInput,
  type ImageBlock as SdkImageBlock,
  type ImageSource as SdkImageSource,
  type InferenceConfiguration as SdkInferenceConfiguration,
  type Message as SdkMessage,
  type SpecificToolChoice as SdkSpecificToolChoice,
  type SystemContentBlock as SdkSystemContentBlock,
  type Tool as SdkTool,
  type ToolConfiguration as SdkToolConfiguration,
  type ToolResultBlock as SdkToolResultBlock,
  type ToolResultContentBlock as SdkToolResultContentBlock,
  type ToolSpecification as SdkToolSpecification,
  type ToolUseBlock as SdkToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { parseChatRequest } from '../../unified/chat-request.js';
import type { Wire } from './fixtures.js';
import { conversePath } from './request.js';
import { toConverseRequest } from './request.js';
import type {
  ContentBlock,
  ConverseRequest,
  ImageBlock,
  InferenceConfig,
  Message,
  TextBlock,
  ToolChoice,
  ToolConfig,
  ToolResultBlock,
  ToolSpec,
  ToolUseBlock,
} from './wire.js';

// ── 1. Compile time ─────────────────────────────────────────────────────────────────────────────────────────

type SdkConverseBody = Wire<Omit<ConverseCommandInput, 'modelId'>>;

/** Fails to compile if the gateway's body is not a valid SDK request body. */
function asSdk(body: ConverseRequest): SdkConverseBody {
  return body;
}

/** `true` when Mine has no key that Sdk lacks; otherwise a type naming the extra keys (and the line fails). */
type NoExtraKeys<Mine, Sdk> = [Exclude<keyof Mine, keyof Sdk>] extends [never]
  ? true
  : { extraKeys: Exclude<keyof Mine, keyof Sdk> };

const keyChecks: true[] = [
  true satisfies NoExtraKeys<ConverseRequest, SdkConverseBody>,
  true satisfies NoExtraKeys<Message, SdkMessage>,
  true satisfies NoExtraKeys<TextBlock, SdkContentBlock.TextMember>,
  true satisfies NoExtraKeys<TextBlock, SdkSystemContentBlock.TextMember>,
  true satisfies NoExtraKeys<TextBlock, SdkToolResultContentBlock.TextMember>,
  true satisfies NoExtraKeys<ImageBlock, SdkContentBlock.ImageMember>,
  true satisfies NoExtraKeys<ImageBlock['image'], SdkImageBlock>,
  true satisfies NoExtraKeys<ImageBlock['image']['source'], SdkImageSource.BytesMember>,
  true satisfies NoExtraKeys<ToolUseBlock, SdkContentBlock.ToolUseMember>,
  true satisfies NoExtraKeys<ToolUseBlock['toolUse'], SdkToolUseBlock>,
  true satisfies NoExtraKeys<ToolResultBlock, SdkContentBlock.ToolResultMember>,
  true satisfies NoExtraKeys<ToolResultBlock['toolResult'], SdkToolResultBlock>,
  true satisfies NoExtraKeys<ToolSpec, SdkTool.ToolSpecMember>,
  true satisfies NoExtraKeys<ToolSpec['toolSpec'], SdkToolSpecification>,
  true satisfies NoExtraKeys<ToolConfig, SdkToolConfiguration>,
  true satisfies NoExtraKeys<Extract<ToolChoice, { tool: unknown }>['tool'], SdkSpecificToolChoice>,
  true satisfies NoExtraKeys<InferenceConfig, SdkInferenceConfiguration>,
];

// The checks bite: a tool choice the SDK does not know, raw bytes where the wire has base64, a misspelt key.
// @ts-expect-error Converse has no "none" tool choice
const badChoice: SdkConverseBody = { messages: [], toolConfig: { tools: [], toolChoice: { none: {} } } };
const badBytes: SdkConverseBody = {
  // @ts-expect-error on the wire, image bytes are a base64 string, not a Uint8Array
  messages: [{ role: 'user', content: [{ image: { format: 'png', source: { bytes: new Uint8Array(1) } } }] }],
};
// @ts-expect-error a misspelt optional key is caught by the key check
const badKey: NoExtraKeys<{ maxToken: number }, SdkInferenceConfiguration> = true;

test('compile-time checks are in place (this file compiles)', () => {
  assert.equal(keyChecks.length, 17);
  assert.equal(typeof asSdk, 'function');
  assert.ok(badChoice && badBytes && badKey);
});

// ── 2. Run time, through the real SDK client ────────────────────────────────────────────────────────────────

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==';

/** What an SDK user would pass: the same body, with image bytes as bytes. */
function sdkInput(body: ConverseRequest, modelId: string): ConverseCommandInput {
  const toSdkBlock = (block: ContentBlock): SdkContentBlock =>
    'image' in block
      ? {
          image: {
            format: block.image.format,
            source: { bytes: new Uint8Array(Buffer.from(block.image.source.bytes, 'base64')) },
          },
        }
      : block;
  return {
    ...body,
    modelId,
    messages: body.messages.map((m) => ({ role: m.role, content: m.content.map(toSdkBlock) })),
  };
}

interface Captured {
  path: string;
  body: unknown;
}

async function serialisedBySdk(input: ConverseCommandInput, stream: boolean): Promise<Captured> {
  let captured: Captured | undefined;
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: { path: string; body?: unknown }) => {
        captured = { path: request.path, body: JSON.parse(String(request.body)) };
        throw new Error('captured: not sent');
      },
    },
  });
  const command = stream ? new ConverseStreamCommand(input) : new ConverseCommand(input);
  await assert.rejects(client.send(command as ConverseCommand), /captured/);
  client.destroy();
  assert.ok(captured, 'the SDK serialised a request');
  return captured;
}

test('the SDK serialises the same request to the same path and the same JSON body', async () => {
  const request = parseChatRequest(
    JSON.stringify({
      model: 'claude',
      max_completion_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'required',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture, and the weather in Paris?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          ],
        },
        {
          role: 'assistant',
          content: 'A dot.',
          tool_calls: [
            { id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'tooluse_1', content: '18°C' },
      ],
    }),
  );
  const body = toConverseRequest(request);
  const modelId =
    'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0';
  for (const stream of [false, true]) {
    const sdk = await serialisedBySdk(sdkInput(body, modelId), stream);
    assert.equal(sdk.path, conversePath(new URL('https://bedrock-runtime.us-east-1.amazonaws.com'), modelId, stream));
    assert.deepEqual(sdk.body, JSON.parse(JSON.stringify(body)));
  }
});
