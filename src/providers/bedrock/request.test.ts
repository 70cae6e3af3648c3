// Specification of the unified → Converse request mapping.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { JSON_TOOL_NAME, toConverseRequest } from './request.js';

const chat = (extra: Record<string, unknown>) => parseChatRequest(JSON.stringify({ model: 'claude', ...extra }));
const convert = (extra: Record<string, unknown>) => toConverseRequest(chat(extra));
const USER = { role: 'user', content: 'hi' };
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==';
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const TOOL_HISTORY = [
  { role: 'user', content: 'Weather in Paris?' },
  {
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'tooluse_1', content: '18°C' },
];

/** Asserts a 400 UnifiedError naming `param`. */
function refused(extra: Record<string, unknown>, param: string, message?: RegExp): void {
  assert.throws(
    () => convert(extra),
    (err: unknown) => {
      assert.ok(err instanceof UnifiedError, `expected a UnifiedError, got ${String(err)}`);
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

describe('messages', () => {
  test('every system and developer message goes to `system`, in order, wherever it appears', () => {
    const body = convert({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
        {
          role: 'developer',
          content: [
            { type: 'text', text: 'Answer in French.' },
            { type: 'text', text: 'No emojis.' },
          ],
        },
        { role: 'system', content: '' },
      ],
    });
    assert.deepEqual(body.system, [{ text: 'Be brief.' }, { text: 'Answer in French.' }, { text: 'No emojis.' }]);
    assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: 'hi' }] }]);
  });

  test('without system messages there is no `system` field', () => {
    assert.equal(convert({ messages: [USER] }).system, undefined);
  });

  test('consecutive turns of one role merge, since Converse alternates user and assistant', () => {
    const body = convert({
      messages: [
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: [{ type: 'text', text: 'four' }] },
        { role: 'user', content: 'five' },
      ],
    });
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ text: 'one' }, { text: 'two' }] },
      { role: 'assistant', content: [{ text: 'three' }, { text: 'four' }] },
      { role: 'user', content: [{ text: 'five' }] },
    ]);
  });

  test('an empty assistant turn is dropped (Converse rejects empty content) and its neighbours merge', () => {
    const body = convert({
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'b' },
      ],
    });
    assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: 'a' }, { text: 'b' }] }]);
  });

  test('a final assistant turn is kept as a prefill', () => {
    const body = convert({ messages: [USER, { role: 'assistant', content: 'Sure: ' }] });
    assert.deepEqual(body.messages.at(-1), { role: 'assistant', content: [{ text: 'Sure: ' }] });
  });

  test('assistant refusals in the history are kept as text', () => {
    const body = convert({
      messages: [USER, { role: 'assistant', content: null, refusal: 'I cannot help with that.' }, USER],
    });
    assert.deepEqual(body.messages[1], { role: 'assistant', content: [{ text: 'I cannot help with that.' }] });
  });

  test('tool calls become toolUse blocks with parsed input; tool results join the next user turn', () => {
    const body = convert({
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'tooluse_P', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'tooluse_T', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'tooluse_P', content: '18°C' },
        {
          role: 'tool',
          tool_call_id: 'tooluse_T',
          content: [
            { type: 'text', text: '25°C' },
            { type: 'text', text: 'humid' },
          ],
        },
        { role: 'user', content: 'Which is warmer?' },
      ],
    });
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ text: 'Weather in Paris and Tokyo?' }] },
      {
        role: 'assistant',
        content: [
          { text: 'Checking.' },
          { toolUse: { toolUseId: 'tooluse_P', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'tooluse_T', name: 'get_weather', input: {} } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tooluse_P', content: [{ text: '18°C' }], status: 'success' } },
          { toolResult: { toolUseId: 'tooluse_T', content: [{ text: '25°C' }, { text: 'humid' }], status: 'success' } },
          { text: 'Which is warmer?' },
        ],
      },
    ]);
  });

  test('tool-call arguments that are not a JSON object are refused, naming the field', () => {
    const history = (args: string) => ({
      tools: [WEATHER_TOOL],
      messages: [
        USER,
        {
          role: 'assistant',
          tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: args } }],
        },
      ],
    });
    refused(history('{"city":'), 'messages[1].tool_calls[0].function.arguments', /not valid JSON/);
    refused(history('[1,2]'), 'messages[1].tool_calls[0].function.arguments', /JSON object/);
  });

  test('the deprecated function role is refused', () => {
    refused({ messages: [USER, { role: 'function', name: 'f', content: 'x' }] }, 'messages[1].role');
  });

  test('a conversation of system messages only is refused', () => {
    refused({ messages: [{ role: 'system', content: 'Be brief.' }] }, 'messages');
  });

  test('message names have no Converse equivalent and are dropped', () => {
    const body = convert({ messages: [{ role: 'user', content: 'hi', name: 'alice' }] });
    assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: 'hi' }] }]);
  });
});

describe('images', () => {
  const withImage = (url: string) => ({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url, detail: 'high' } },
        ],
      },
    ],
  });

  test('a base64 data URL becomes an image block with its format and the base64 bytes', () => {
    const body = convert(withImage(`data:image/png;base64,${PNG}`));
    assert.deepEqual(body.messages[0]?.content, [
      { text: 'What is this?' },
      { image: { format: 'png', source: { bytes: PNG } } },
    ]);
  });

  test('JPEG (also spelt image/jpg), GIF and WebP are accepted; media types are case-insensitive', () => {
    for (const [type, format] of [
      ['image/jpeg', 'jpeg'],
      ['image/jpg', 'jpeg'],
      ['IMAGE/GIF', 'gif'],
      ['image/webp', 'webp'],
    ] as const) {
      const block = convert(withImage(`data:${type};base64,AAAA`)).messages[0]?.content[1];
      assert.deepEqual(block, { image: { format, source: { bytes: 'AAAA' } } });
    }
  });

  test('web URLs are refused: Converse takes image bytes only and the gateway does not fetch', () => {
    refused(withImage('https://example.com/cat.png'), 'messages[0].content[1].image_url.url', /base64 data URL/);
  });

  test('other media types, non-base64 and empty data URLs are refused', () => {
    refused(withImage('data:image/svg+xml;base64,AAAA'), 'messages[0].content[1].image_url.url', /image\/svg\+xml/);
    refused(withImage('data:image/png,rawbytes'), 'messages[0].content[1].image_url.url', /base64/);
    refused(withImage('data:image/png;base64,'), 'messages[0].content[1].image_url.url', /empty/);
    refused(withImage('ftp://example.com/cat.png'), 'messages[0].content[1].image_url.url');
  });

  test('audio and file parts are refused', () => {
    refused(
      {
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }],
      },
      'messages[0].content[0]',
      /input_audio/,
    );
    refused(
      { messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'f1' } }] }] },
      'messages[0].content[0]',
      /file/,
    );
  });
});

describe('parameters', () => {
  test('sampling parameters map to inferenceConfig; a string stop becomes a list', () => {
    const body = convert({ messages: [USER], max_tokens: 100, temperature: 0.3, top_p: 0.9, stop: 'END' });
    assert.deepEqual(body.inferenceConfig, { maxTokens: 100, temperature: 0.3, topP: 0.9, stopSequences: ['END'] });
  });

  test('max_completion_tokens wins over the deprecated max_tokens', () => {
    assert.equal(
      convert({ messages: [USER], max_tokens: 100, max_completion_tokens: 50 }).inferenceConfig?.maxTokens,
      50,
    );
  });

  test('stop lists pass as they are; no parameters means no inferenceConfig', () => {
    assert.deepEqual(convert({ messages: [USER], stop: ['a', 'b'] }).inferenceConfig, { stopSequences: ['a', 'b'] });
    assert.equal(convert({ messages: [USER] }).inferenceConfig, undefined);
  });

  test('n > 1 is refused; n = 1 is fine', () => {
    refused({ messages: [USER], n: 2 }, 'n');
    assert.ok(convert({ messages: [USER], n: 1 }));
  });

  test('temperature above 1 is refused (Bedrock models take 0–1) rather than clamped', () => {
    refused({ messages: [USER], temperature: 1.5 }, 'temperature');
    assert.equal(convert({ messages: [USER], temperature: 1 }).inferenceConfig?.temperature, 1);
  });

  test('penalties, logprobs, logit_bias and audio output are refused when they would change the answer', () => {
    refused({ messages: [USER], presence_penalty: 0.5 }, 'presence_penalty');
    refused({ messages: [USER], frequency_penalty: -1 }, 'frequency_penalty');
    refused({ messages: [USER], logprobs: true }, 'logprobs');
    refused({ messages: [USER], top_logprobs: 2 }, 'top_logprobs');
    refused({ messages: [USER], logit_bias: { '50256': -100 } }, 'logit_bias');
    refused({ messages: [USER], modalities: ['text', 'audio'] }, 'modalities');
    assert.ok(
      convert({ messages: [USER], presence_penalty: 0, frequency_penalty: 0, logprobs: false, logit_bias: {} }),
    );
  });

  test('user and seed are dropped: Converse has no equivalent and neither changes the answer’s meaning', () => {
    const body = convert({ messages: [USER], user: 'user-42', seed: 7 });
    assert.deepEqual(Object.keys(body), ['messages']);
  });
});

describe('tools', () => {
  test('function tools become toolSpecs; a missing schema is an empty object schema; strict passes on', () => {
    const body = convert({
      messages: [USER],
      tools: [WEATHER_TOOL, { type: 'function', function: { name: 'now', strict: true } }],
    });
    assert.deepEqual(body.toolConfig, {
      tools: [
        {
          toolSpec: {
            name: 'get_weather',
            description: 'Weather for a city',
            inputSchema: { json: WEATHER_TOOL.function.parameters },
          },
        },
        { toolSpec: { name: 'now', inputSchema: { json: { type: 'object', properties: {} } }, strict: true } },
      ],
    });
  });

  test('tool_choice auto (or none given) leaves toolChoice out: auto is Converse’s default', () => {
    assert.equal(
      convert({ messages: [USER], tools: [WEATHER_TOOL], tool_choice: 'auto' }).toolConfig?.toolChoice,
      undefined,
    );
  });

  test('tool_choice required is `any`; a named function is `tool`', () => {
    assert.deepEqual(
      convert({ messages: [USER], tools: [WEATHER_TOOL], tool_choice: 'required' }).toolConfig?.toolChoice,
      { any: {} },
    );
    assert.deepEqual(
      convert({
        messages: [USER],
        tools: [WEATHER_TOOL],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      }).toolConfig?.toolChoice,
      { tool: { name: 'get_weather' } },
    );
  });

  test('a named tool_choice must name one of the tools', () => {
    refused(
      { messages: [USER], tools: [WEATHER_TOOL], tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice.function.name',
    );
  });

  test('tool_choice none withholds the tools (Converse has no "none"), so the model cannot call them', () => {
    const body = convert({ messages: [USER], tools: [WEATHER_TOOL], tool_choice: 'none' });
    assert.equal(body.toolConfig, undefined);
  });

  test('tool_choice none with tool calls in the history is refused: Converse needs the tools defined then', () => {
    refused({ messages: TOOL_HISTORY, tools: [WEATHER_TOOL], tool_choice: 'none' }, 'tool_choice', /'none'/);
  });

  test('tool calls in the history without tools are refused, naming tools', () => {
    refused({ messages: TOOL_HISTORY }, 'tools');
  });

  test('forcing a tool without tools is refused', () => {
    refused({ messages: [USER], tool_choice: 'required' }, 'tool_choice');
    refused({ messages: [USER], tool_choice: { type: 'function', function: { name: 'x' } } }, 'tool_choice');
  });

  test('allowed_tools is refused', () => {
    refused(
      {
        messages: [USER],
        tools: [WEATHER_TOOL],
        tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } },
      },
      'tool_choice',
    );
  });

  test('parallel_tool_calls: false is refused with tools (Converse cannot limit it) and ignored without', () => {
    refused({ messages: [USER], tools: [WEATHER_TOOL], parallel_tool_calls: false }, 'parallel_tool_calls');
    assert.ok(convert({ messages: [USER], parallel_tool_calls: false }));
    assert.ok(convert({ messages: [USER], tools: [WEATHER_TOOL], parallel_tool_calls: true }));
  });
});

describe('JSON mode (emulated with a forced tool)', () => {
  test('json_object forces the json_response tool with an open object schema', () => {
    const body = convert({ messages: [USER], response_format: { type: 'json_object' } });
    assert.deepEqual(body.toolConfig?.toolChoice, { tool: { name: JSON_TOOL_NAME } });
    assert.equal(body.toolConfig?.tools.length, 1);
    assert.deepEqual(body.toolConfig?.tools[0]?.toolSpec.inputSchema, { json: { type: 'object' } });
  });

  test('json_schema forces the tool with the client’s schema, name, description and strictness', () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' } },
      required: ['name'],
      additionalProperties: false,
    };
    const body = convert({
      messages: [USER],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', description: 'A person.', schema, strict: true },
      },
    });
    const spec = body.toolConfig?.tools[0]?.toolSpec;
    assert.equal(spec?.name, JSON_TOOL_NAME);
    assert.deepEqual(spec?.inputSchema, { json: schema });
    assert.equal(spec?.strict, true);
    assert.match(spec?.description ?? '', /"person" schema\. A person\./);
    assert.deepEqual(body.toolConfig?.toolChoice, { tool: { name: JSON_TOOL_NAME } });
  });

  test('a schema whose top level is not an object is refused (tool input must be an object)', () => {
    refused(
      {
        messages: [USER],
        response_format: { type: 'json_schema', json_schema: { name: 'list', schema: { type: 'array' } } },
      },
      'response_format.json_schema.schema',
    );
  });

  test('JSON mode together with tools is refused', () => {
    refused({ messages: [USER], tools: [WEATHER_TOOL], response_format: { type: 'json_object' } }, 'response_format');
  });

  test('response_format text changes nothing', () => {
    assert.equal(convert({ messages: [USER], response_format: { type: 'text' } }).toolConfig, undefined);
  });
});
