// The wire types in wire.ts checked against the official @google/genai types, at compile time: if a field is
// misnamed or mistyped, this file does not compile.
//
// Which SDK types: the SDK's request surface is SDK-level (`GenerateContentParameters` = {model, contents,
// config}, where `config: GenerateContentConfig` flattens systemInstruction, tools, toolConfig and the generation
// settings together); its converters move the settings into the wire's `generationConfig`. So the wire pieces
// are checked against the SDK's wire-compatible types: `Content`/`Part` (and `Blob`, `FileData`, `FunctionCall`,
// `FunctionResponse`), `GenerationConfig` (the SDK's type of the wire generationConfig object),
// `FunctionDeclaration`, `Tool`, `ToolConfig`/`FunctionCallingConfig`; the top-level keys against
// `GenerateContentParameters` + `GenerateContentConfig`. Responses are checked the other way round: the SDK's
// response types must be readable as ours.
//
// Two checks per type: assignability (shared fields have compatible types) and key containment (every key we
// write exists in the SDK type; assignability alone would accept a misspelt optional field).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FinishReason as SdkFinishReason,
  type Blob as SdkBlob,
  type Candidate as SdkCandidate,
  type Content as SdkContent,
  type FileData as SdkFileData,
  type FunctionCall as SdkFunctionCall,
  type FunctionCallingConfig as SdkFunctionCallingConfig,
  type FunctionCallingConfigMode as SdkFunctionCallingConfigMode,
  type FunctionDeclaration as SdkFunctionDeclaration,
  type FunctionResponse as SdkFunctionResponse,
  type GenerateContentConfig as SdkGenerateContentConfig,
  type GenerateContentParameters as SdkGenerateContentParameters,
  type GenerateContentResponse as SdkGenerateContentResponse,
  type GenerateContentResponseUsageMetadata as SdkUsageMetadata,
  type GenerationConfig as SdkGenerationConfig,
  type ThinkingConfig as SdkThinkingConfig,
  type ThinkingLevel as SdkThinkingLevel,
  type Part as SdkPart,
  type Tool as SdkTool,
  type ToolConfig as SdkToolConfig,
} from '@google/genai';
import { parseChatRequest } from '../../unified/chat-request.js';
import { finishReason, type KnownGeminiFinishReason } from './candidates.js';
import type { WireResponse } from './fixtures.js';
import { toGeminiRequest } from './request.js';
import type * as W from './wire.js';

/** true when every key of Mine is a key of Sdk; otherwise a type naming the extra keys (a compile error below). */
type KeysWithin<Mine, Sdk> = [Exclude<keyof Mine, keyof Sdk>] extends [never]
  ? true
  : { extraKeys: Exclude<keyof Mine, keyof Sdk> };

// Key containment, piece by piece.
const keyChecks: Array<true> = [
  true satisfies KeysWithin<W.Content, SdkContent>,
  true satisfies KeysWithin<W.SystemInstruction, SdkContent>,
  true satisfies KeysWithin<W.TextPart, SdkPart>,
  true satisfies KeysWithin<W.InlineDataPart, SdkPart>,
  true satisfies KeysWithin<W.InlineDataPart['inlineData'], SdkBlob>,
  true satisfies KeysWithin<W.FileDataPart, SdkPart>,
  true satisfies KeysWithin<W.FileDataPart['fileData'], SdkFileData>,
  true satisfies KeysWithin<W.FunctionCallPart, SdkPart>,
  true satisfies KeysWithin<W.FunctionCallPart['functionCall'], SdkFunctionCall>,
  true satisfies KeysWithin<W.FunctionResponsePart, SdkPart>,
  true satisfies KeysWithin<W.FunctionResponsePart['functionResponse'], SdkFunctionResponse>,
  true satisfies KeysWithin<W.GenerationConfig, SdkGenerationConfig>,
  true satisfies KeysWithin<W.FunctionDeclaration, SdkFunctionDeclaration>,
  true satisfies KeysWithin<W.Tool, SdkTool>,
  true satisfies KeysWithin<W.ToolConfig, SdkToolConfig>,
  true satisfies KeysWithin<W.ToolConfig['functionCallingConfig'], SdkFunctionCallingConfig>,
  // generationConfig is the wire name of the settings the SDK keeps flat in GenerateContentConfig.
  true satisfies KeysWithin<
    Omit<W.GenerateContentRequest, 'generationConfig'>,
    SdkGenerateContentParameters & SdkGenerateContentConfig
  >,
  // Response side.
  true satisfies KeysWithin<W.GenerateContentResponse, SdkGenerateContentResponse>,
  true satisfies KeysWithin<W.Candidate, SdkCandidate>,
  true satisfies KeysWithin<W.ResponsePart, SdkPart>,
  true satisfies KeysWithin<NonNullable<W.ResponsePart['functionCall']>, SdkFunctionCall>,
  true satisfies KeysWithin<W.UsageMetadata, SdkUsageMetadata>,
];

// The SDK's function-calling modes are an enum; ours are its string values.
const modeCheck: [W.FunctionCallingMode] extends [`${SdkFunctionCallingConfigMode}`] ? true : never = true;

/** Every FinishReason the SDK knows is mapped explicitly (a new SDK value fails the build until it is). */
const finishReasonsCovered: [Exclude<`${SdkFinishReason}`, KnownGeminiFinishReason>] extends [never] ? true : never =
  true;

// Assignability: what we send is a valid SDK value…
type SdkToolConfigWire = Omit<SdkToolConfig, 'functionCallingConfig'> & {
  functionCallingConfig?: Omit<SdkFunctionCallingConfig, 'mode'> & { mode?: `${SdkFunctionCallingConfigMode}` };
};
type SdkGenerationConfigWire = Omit<SdkGenerationConfig, 'thinkingConfig'> & {
  thinkingConfig?: Omit<SdkThinkingConfig, 'thinkingLevel'> & { thinkingLevel?: `${SdkThinkingLevel}` };
};
const asSdk = {
  content: (x: W.Content): SdkContent => x,
  systemInstruction: (x: W.SystemInstruction): SdkContent => x,
  generationConfig: (x: W.GenerationConfig): SdkGenerationConfigWire => x,
  tool: (x: W.Tool): SdkTool => x,
  toolConfig: (x: W.ToolConfig): SdkToolConfigWire => x,
};
// …and what the SDK describes as a response is readable as ours.
const fromSdk = {
  response: (x: WireResponse): W.GenerateContentResponse => x,
  candidate: (x: SdkCandidate): W.Candidate => x,
  usage: (x: SdkUsageMetadata): W.UsageMetadata => x,
};

test('the wire types compile against the SDK types (the checks above are compile-time)', () => {
  assert.equal(keyChecks.length, 22);
  assert.equal(modeCheck, true);
  assert.equal(finishReasonsCovered, true);
  assert.equal(typeof fromSdk.response, 'function');
});

test('a request using every mapped feature passes through the SDK-typed views unchanged', () => {
  const request = parseChatRequest(
    JSON.stringify({
      model: 'alias',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_0_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_0_0', content: '{"temp":21}' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
      ],
      tools: [
        { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object' } } },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      temperature: 0.2,
      top_p: 0.9,
      max_completion_tokens: 100,
      stop: ['END'],
      n: 2,
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0.2,
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } },
    }),
  );
  const body = toGeminiRequest(request);
  assert.deepEqual(body.contents.map(asSdk.content), body.contents);
  assert.ok(body.systemInstruction && asSdk.systemInstruction(body.systemInstruction));
  assert.ok(body.generationConfig && asSdk.generationConfig(body.generationConfig));
  assert.ok(body.tools?.[0] && asSdk.tool(body.tools[0]));
  assert.ok(body.toolConfig && asSdk.toolConfig(body.toolConfig));
});

test('every SDK finish reason maps into OpenAI’s set', () => {
  const openAI = new Set(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);
  for (const reason of Object.values(SdkFinishReason)) {
    assert.ok(openAI.has(finishReason(reason, false)), reason);
    assert.ok(openAI.has(finishReason(reason, true)), reason);
  }
  assert.equal(typeof fromSdk.candidate, 'function');
  assert.equal(typeof fromSdk.usage, 'function');
});
