import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { toGeminiRequest } from './request.js';

const chat = (fields: Record<string, unknown>) =>
  parseChatRequest(JSON.stringify({ model: 'gemini-alias', messages: [{ role: 'user', content: 'hi' }], ...fields }));
const translate = (fields: Record<string, unknown>) => toGeminiRequest(chat(fields));

function refused(fields: Record<string, unknown>, param: string, message?: RegExp): void {
  assert.throws(
    () => translate(fields),
    (err: unknown) => {
      assert.ok(err instanceof UnifiedError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};
const TIME_TOOL = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

test('a plain user message becomes one user content with a text part', () => {
  assert.deepEqual(translate({}), { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
});

test('every system and developer message joins systemInstruction, in order, wherever it appears', () => {
  const body = translate({
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hi' },
      {
        role: 'developer',
        content: [
          { type: 'text', text: 'Answer in French.' },
          { type: 'text', text: 'No emoji.' },
        ],
      },
      { role: 'assistant', content: 'Bonjour.' },
      { role: 'system', content: 'Stay polite.' },
      { role: 'user', content: 'ça va?' },
    ],
  });
  assert.deepEqual(body.systemInstruction, {
    parts: [{ text: 'You are terse.' }, { text: 'Answer in French.' }, { text: 'No emoji.' }, { text: 'Stay polite.' }],
  });
  assert.deepEqual(body.contents, [
    { role: 'user', parts: [{ text: 'hi' }] },
    { role: 'model', parts: [{ text: 'Bonjour.' }] },
    { role: 'user', parts: [{ text: 'ça va?' }] },
  ]);
});

test('consecutive messages of the same Gemini role merge into one turn', () => {
  const body = translate({
    messages: [
      { role: 'user', content: 'one' },
      { role: 'user', content: [{ type: 'text', text: 'two' }] },
      { role: 'assistant', content: 'a' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'b' },
          { type: 'refusal', refusal: 'no' },
        ],
      },
    ],
  });
  assert.deepEqual(body.contents, [
    { role: 'user', parts: [{ text: 'one' }, { text: 'two' }] },
    { role: 'model', parts: [{ text: 'a' }, { text: 'b' }, { text: 'no' }] },
  ]);
});

test('empty texts are left out, and a request with nothing but system messages is refused', () => {
  const body = translate({
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: '' },
      { role: 'user', content: 'r' },
    ],
  });
  assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'q' }, { text: 'r' }] }]);
  refused(
    { messages: [{ role: 'system', content: 'only this' }] },
    'messages',
    /at least one non-empty user or assistant message/,
  );
});

test('sampling settings map to generationConfig', () => {
  const body = translate({
    temperature: 1.5,
    top_p: 0.9,
    stop: 'END',
    n: 3,
    seed: 42,
    presence_penalty: 0.5,
    frequency_penalty: -0.5,
    max_tokens: 50,
  });
  assert.deepEqual(body.generationConfig, {
    temperature: 1.5,
    topP: 0.9,
    maxOutputTokens: 50,
    stopSequences: ['END'],
    candidateCount: 3,
    seed: 42,
    presencePenalty: 0.5,
    frequencyPenalty: -0.5,
  });
});

test('max_completion_tokens wins over the deprecated max_tokens; stop lists pass as they are', () => {
  const body = translate({ max_tokens: 10, max_completion_tokens: 200, stop: ['a', 'b'] });
  assert.equal(body.generationConfig?.maxOutputTokens, 200);
  assert.deepEqual(body.generationConfig?.stopSequences, ['a', 'b']);
});

test('null settings are treated as absent and no generationConfig is sent for none', () => {
  assert.equal(translate({ temperature: null, n: null, stop: null, seed: null }).generationConfig, undefined);
});

test('JSON mode sets the JSON MIME type; json_schema also sends the schema as JSON Schema', () => {
  assert.deepEqual(translate({ response_format: { type: 'json_object' } }).generationConfig, {
    responseMimeType: 'application/json',
  });
  const schema = {
    type: 'object',
    properties: { answer: { type: 'string' } },
    required: ['answer'],
    additionalProperties: false,
  };
  assert.deepEqual(
    translate({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } })
      .generationConfig,
    {
      responseMimeType: 'application/json',
      responseJsonSchema: schema,
    },
  );
  assert.equal(translate({ response_format: { type: 'text' } }).generationConfig, undefined);
});

test('tools become one functionDeclarations tool with the JSON Schema parameters untouched', () => {
  const body = translate({ tools: [WEATHER_TOOL, { type: 'function', function: { name: 'noop' } }] });
  assert.deepEqual(body.tools, [
    {
      functionDeclarations: [
        { name: 'get_weather', description: 'Current weather', parametersJsonSchema: WEATHER_TOOL.function.parameters },
        { name: 'noop' },
      ],
    },
  ]);
  assert.equal(body.toolConfig, undefined, 'auto is Gemini’s default');
});

test('tool_choice maps to functionCallingConfig modes', () => {
  const tools = [WEATHER_TOOL, TIME_TOOL];
  assert.equal(translate({ tools, tool_choice: 'auto' }).toolConfig, undefined);
  assert.deepEqual(translate({ tools, tool_choice: 'none' }).toolConfig, { functionCallingConfig: { mode: 'NONE' } });
  assert.deepEqual(translate({ tools, tool_choice: 'required' }).toolConfig, {
    functionCallingConfig: { mode: 'ANY' },
  });
  assert.deepEqual(translate({ tools, tool_choice: { type: 'function', function: { name: 'get_time' } } }).toolConfig, {
    functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] },
  });
  // tool_choice none still declares the tools, so history with calls stays valid.
  assert.equal(translate({ tools, tool_choice: 'none' }).tools?.[0]?.functionDeclarations.length, 2);
});

test('allowed_tools: required restricts ANY to the names; auto withholds the other declarations', () => {
  const tools = [WEATHER_TOOL, TIME_TOOL];
  const allowed = (mode: string) => ({
    type: 'allowed_tools',
    allowed_tools: { mode, tools: [{ type: 'function', function: { name: 'get_time' } }] },
  });
  const required = translate({ tools, tool_choice: allowed('required') });
  assert.deepEqual(required.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] } });
  assert.equal(required.tools?.[0]?.functionDeclarations.length, 2);
  const auto = translate({ tools, tool_choice: allowed('auto') });
  assert.equal(auto.toolConfig, undefined);
  assert.deepEqual(
    auto.tools?.[0]?.functionDeclarations.map((d) => d.name),
    ['get_time'],
  );
  refused(
    { tools, tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'sometimes', tools: [] } } },
    'tool_choice.allowed_tools',
  );
});

test('a tool_choice without tools, or naming an unknown tool, is a 400', () => {
  refused({ tool_choice: 'required' }, 'tool_choice', /only allowed when 'tools'/);
  refused(
    { tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'get_time' } } },
    'tool_choice',
    /get_time/,
  );
});

test('function names Gemini rejects (leading digit or dash) are a 400 naming the tool', () => {
  refused({ tools: [WEATHER_TOOL, { type: 'function', function: { name: '9lives' } }] }, 'tools[1].function.name');
});

test('assistant tool calls become functionCall parts and tool results functionResponse parts named by the call', () => {
  const body = translate({
    tools: [WEATHER_TOOL, TIME_TOOL],
    messages: [
      { role: 'user', content: 'Weather in Paris, and the time?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21,"sky":"clear"}' },
      { role: 'tool', tool_call_id: 'call_b', content: [{ type: 'text', text: '12:00' }] },
      { role: 'user', content: 'Thanks!' },
    ],
  });
  assert.deepEqual(body.contents, [
    { role: 'user', parts: [{ text: 'Weather in Paris, and the time?' }] },
    {
      role: 'model',
      parts: [
        { text: 'Checking.' },
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
        { functionCall: { name: 'get_time', args: {} } },
      ],
    },
    {
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { temp: 21, sky: 'clear' } } },
        { functionResponse: { name: 'get_time', response: { content: '12:00' } } },
        { text: 'Thanks!' },
      ],
    },
  ]);
});

test('non-object tool results are wrapped as {content: text}', () => {
  const call = (content: string) =>
    translate({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content },
      ],
    }).contents[2]?.parts[0];
  assert.deepEqual(call('[1,2]'), { functionResponse: { name: 'f', response: { content: '[1,2]' } } });
  assert.deepEqual(call('42'), { functionResponse: { name: 'f', response: { content: '42' } } });
  assert.deepEqual(call('plain words'), { functionResponse: { name: 'f', response: { content: 'plain words' } } });
});

test('a reused tool call id resolves to the most recent assistant call of that id', () => {
  const body = translate({
    messages: [
      { role: 'user', content: 'x' },
      {
        role: 'assistant',
        tool_calls: [{ id: 'call_0_0', type: 'function', function: { name: 'first', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_0_0', content: 'one' },
      {
        role: 'assistant',
        tool_calls: [{ id: 'call_0_0', type: 'function', function: { name: 'second', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_0_0', content: 'two' },
    ],
  });
  assert.deepEqual(body.contents[4]?.parts, [{ functionResponse: { name: 'second', response: { content: 'two' } } }]);
});

test('a tool result for an unknown call id, or arguments that are not a JSON object, are a 400', () => {
  refused(
    {
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', tool_call_id: 'nope', content: 'r' },
      ],
    },
    'messages[1].tool_call_id',
    /nope/,
  );
  refused(
    {
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] },
      ],
    },
    'messages[1].tool_calls[0].function.arguments',
  );
});

test('a thought signature carried in a gateway tool-call id goes back on its functionCall part', () => {
  const body = translate({
    messages: [
      { role: 'user', content: 'x' },
      {
        role: 'assistant',
        tool_calls: [{ id: 'call_0_0_r1__sig_c2lnLWE_Kw', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_0_0_r1__sig_c2lnLWE_Kw', content: 'ok' },
    ],
  });
  assert.deepEqual(body.contents[1]?.parts, [
    { functionCall: { name: 'f', args: {} }, thoughtSignature: 'c2lnLWE/Kw==' },
  ]);
});

test('legacy function messages and assistant function_call history are translated too', () => {
  const body = translate({
    messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{"q":1}' } },
      { role: 'function', name: 'lookup', content: '{"a":2}' },
    ],
  });
  assert.deepEqual(body.contents.slice(1), [
    { role: 'model', parts: [{ functionCall: { name: 'lookup', args: { q: 1 } } }] },
    { role: 'user', parts: [{ functionResponse: { name: 'lookup', response: { a: 2 } } }] },
  ]);
});

test('images: data URLs go inline, http(s) and gs:// URLs by reference with a MIME type from the extension', () => {
  const body = translate({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.WEBP?size=large' } },
          { type: 'image_url', image_url: { url: 'gs://bucket/scans/page.pdf' } },
          { type: 'image_url', image_url: { url: 'https://example.com/render?id=7' } },
          { type: 'image_url', image_url: { url: 'data:image/svg+xml,%3Csvg%2F%3E' } },
        ],
      },
    ],
  });
  assert.deepEqual(body.contents[0]?.parts, [
    { text: 'Compare' },
    { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
    { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.WEBP?size=large' } },
    { fileData: { mimeType: 'application/pdf', fileUri: 'gs://bucket/scans/page.pdf' } },
    { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/render?id=7' } },
    { inlineData: { mimeType: 'image/svg+xml', data: Buffer.from('<svg/>').toString('base64') } },
  ]);
});

test('image URLs of other schemes, or data URLs without a media type, are a 400 naming the part', () => {
  const image = (url: string) => ({
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
  });
  refused(image('ftp://example.com/a.png'), 'messages[0].content[0].image_url.url');
  refused(image('data:;base64,AAAA'), 'messages[0].content[0].image_url.url', /media type/);
});

test('audio input goes inline with its IANA type; files only as inline file_data', () => {
  const body = translate({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          { type: 'input_audio', input_audio: { data: 'SUQz', format: 'mp3' } },
          { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
          { type: 'file', file: { filename: 'notes.pdf', file_data: 'JVBERi0=' } },
        ],
      },
    ],
  });
  assert.deepEqual(body.contents[0]?.parts, [
    { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
    { inlineData: { mimeType: 'audio/mp3', data: 'SUQz' } },
    { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
  ]);
  refused(
    { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] },
    'messages[0].content[0].file',
    /file_id/,
  );
});

test('fields that would change the answer and have no Gemini mapping are refused by name', () => {
  refused({ top_logprobs: 3 }, 'top_logprobs', /logprobs: true/);
  refused({ logprobs: true, top_logprobs: 21 }, 'top_logprobs');
  refused({ logit_bias: { '50256': -100 } }, 'logit_bias');
  refused({ modalities: ['text', 'audio'] }, 'modalities');
  refused({ audio: { voice: 'alloy', format: 'mp3' } }, 'audio');
  refused({ prediction: { type: 'content', content: 'x' } }, 'prediction');
  refused({ web_search_options: {} }, 'web_search_options');
  refused({ functions: [{ name: 'f' }] }, 'functions');
  refused({ function_call: 'auto' }, 'function_call');
});

test('documented drops: hints without a Gemini equivalent are not sent', () => {
  const body = translate({
    user: 'user-1234',
    parallel_tool_calls: false,
    tools: [WEATHER_TOOL],
    logprobs: false,
    logit_bias: {},
    modalities: ['text'],
    store: true,
    metadata: { team: 'a' },
    service_tier: 'auto',
    reasoning_effort: 'low',
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'hi', name: 'alice' }],
  });
  assert.deepEqual(Object.keys(body).sort(), ['contents', 'tools']);
  assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'hi' }] }]);
});

describe('mappings: logprobs, reasoning_effort by model generation, top_k', () => {
  const CASES: Array<{
    name: string;
    fields: Record<string, unknown>;
    model?: string;
    want: Record<string, unknown> | undefined;
  }> = [
    { name: 'logprobs: true → responseLogprobs', fields: { logprobs: true }, want: { responseLogprobs: true } },
    {
      name: 'top_logprobs N → logprobs N',
      fields: { logprobs: true, top_logprobs: 5 },
      want: { responseLogprobs: true, logprobs: 5 },
    },
    {
      name: 'top_logprobs 0 → no alternatives',
      fields: { logprobs: true, top_logprobs: 0 },
      want: { responseLogprobs: true },
    },
    { name: 'logprobs: false sends nothing', fields: { logprobs: false }, want: undefined },
    {
      name: 'effort on Gemini 3 → thinkingLevel',
      fields: { reasoning_effort: 'low' },
      model: 'gemini-3-pro-preview',
      want: { thinkingConfig: { thinkingLevel: 'LOW' } },
    },
    {
      name: 'effort high on Gemini 3',
      fields: { reasoning_effort: 'high' },
      model: 'gemini-3-flash',
      want: { thinkingConfig: { thinkingLevel: 'HIGH' } },
    },
    {
      name: 'effort none on Gemini 3 → the lowest level',
      fields: { reasoning_effort: 'none' },
      model: 'gemini-3-flash',
      want: { thinkingConfig: { thinkingLevel: 'MINIMAL' } },
    },
    {
      name: 'effort on Gemini 2.5 → thinkingBudget',
      fields: { reasoning_effort: 'medium' },
      model: 'gemini-2.5-flash',
      want: { thinkingConfig: { thinkingBudget: 8192 } },
    },
    {
      name: 'effort none on Gemini 2.5 → budget 0',
      fields: { reasoning_effort: 'none' },
      model: 'gemini-2.5-flash-lite',
      want: { thinkingConfig: { thinkingBudget: 0 } },
    },
    {
      name: 'tuned model names keep the generation',
      fields: { reasoning_effort: 'low' },
      model: 'models/gemini-2.5-pro',
      want: { thinkingConfig: { thinkingBudget: 1024 } },
    },
    { name: 'top_k → topK', fields: { top_k: 40 }, want: { topK: 40 } },
  ];
  for (const c of CASES) {
    test(c.name, () =>
      assert.deepEqual(toGeminiRequest(chat(c.fields), c.model ?? 'gemini-2.5-flash').generationConfig, c.want),
    );
  }
  test('refusals', () => {
    assert.throws(
      () => toGeminiRequest(chat({ reasoning_effort: 'low' }), 'gemini-2.0-flash'),
      (e: unknown) => e instanceof UnifiedError && e.param === 'reasoning_effort',
    );
    assert.throws(
      () => toGeminiRequest(chat({ reasoning_effort: 'extreme' }), 'gemini-3-pro'),
      (e: unknown) => e instanceof UnifiedError && e.param === 'reasoning_effort',
    );
    assert.throws(
      () => toGeminiRequest(chat({ top_k: 0 }), 'gemini-3-pro'),
      (e: unknown) => e instanceof UnifiedError && e.param === 'top_k',
    );
    assert.throws(
      () => toGeminiRequest(chat({ top_k: 'x' }), 'gemini-3-pro'),
      (e: unknown) => e instanceof UnifiedError && e.param === 'top_k',
    );
  });
});
