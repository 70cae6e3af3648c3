// Specification of the unified → Anthropic request translation (docs/providers/anthropic.md, "Request").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest, type ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { anthropicProvider } from './index.js';
import { PLACEHOLDER_USER_TEXT } from './messages.js';
import { JSON_TOOL_NAME } from './tools.js';
import type { AnthropicRequest } from './wire.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: claude, provider: anthropic, apiKeyEnv: ANTHROPIC_KEY }
  - name: claude-next
    provider: anthropic
    baseUrl: https://llm-proxy.example/anthropic/v1
    apiKeyEnv: ANTHROPIC_KEY
    apiKeyHeader: authorization
    anthropicVersion: "2026-10-21"
    defaultMaxTokens: 1024
    headers: { anthropic-beta: "some-beta-2026-01-01" }
routes:
  - model: claude
    backends: [{ backend: claude, model: claude-sonnet-4-5 }, { backend: claude-next, model: claude-sonnet-5-5 }]
`),
  { ANTHROPIC_KEY: 'sk-ant-test' },
);
const claude = topology.backends.get('claude')!;
const claudeNext = topology.backends.get('claude-next')!;

function request(extra: Record<string, unknown> = {}): ChatRequest {
  return parseChatRequest(JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }], ...extra }));
}

function build(req: ChatRequest, backend = claude) {
  const out = anthropicProvider.buildRequest(req, {
    backend,
    upstreamModel: 'claude-sonnet-4-5',
    now: new Date(),
    credentials: attemptCredentials(backend),
  });
  return { ...out, json: JSON.parse(out.body.toString()) as AnthropicRequest };
}

function native(extra: Record<string, unknown>, backend = claude): AnthropicRequest {
  return build(request(extra), backend).json;
}

/** Asserts both the router stage's check and the upstream translation refuse the request with a 400 naming `param`. */
function refuses(extra: Record<string, unknown>, param: string, message?: RegExp, backend = claude): void {
  const req = request(extra);
  for (const attempt of [() => anthropicProvider.checkRequest(req, backend), () => build(req, backend)]) {
    assert.throws(attempt, (err: unknown) => {
      assert.ok(err instanceof UnifiedError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      if (message) assert.match(err.message, message);
      return true;
    });
  }
}

describe('endpoint and headers', () => {
  test('POST {baseUrl}/messages with x-api-key and the configured anthropic-version', () => {
    const out = build(request());
    assert.equal(out.path, '/v1/messages');
    assert.equal(out.headers['x-api-key'], 'sk-ant-test');
    assert.equal(out.headers['anthropic-version'], '2023-06-01');
    assert.equal(out.headers['content-type'], 'application/json');
    assert.equal(out.headers.authorization, undefined);
    assert.equal(out.json.model, 'claude-sonnet-4-5');
  });

  test('a base URL path prefix, a Bearer key, another API version and static headers are honoured', () => {
    const out = build(request(), claudeNext);
    assert.equal(out.path, '/anthropic/v1/messages');
    assert.equal(out.headers.authorization, 'Bearer sk-ant-test');
    assert.equal(out.headers['x-api-key'], undefined);
    assert.equal(out.headers['anthropic-version'], '2026-10-21');
    assert.equal(out.headers['anthropic-beta'], 'some-beta-2026-01-01');
  });

  test('stream: true is forwarded; Anthropic streams always carry usage, so stream_options is not', () => {
    const json = native({ stream: true, stream_options: { include_usage: false } });
    assert.equal(json.stream, true);
    assert.ok(!('stream_options' in json));
    assert.equal(native({}).stream, undefined);
  });
});

describe('max_tokens (required by Anthropic)', () => {
  test('max_completion_tokens wins, then max_tokens, then the backend default', () => {
    assert.equal(native({ max_completion_tokens: 300, max_tokens: 100 }).max_tokens, 300);
    assert.equal(native({ max_tokens: 100 }).max_tokens, 100);
    assert.equal(native({}).max_tokens, 4096);
    assert.equal(native({}, claudeNext).max_tokens, 1024);
  });
});

describe('conversation', () => {
  test('all system and developer messages, wherever they stand, become top-level system blocks in order', () => {
    const json = native({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hi' },
        {
          role: 'developer',
          content: [
            { type: 'text', text: 'Answer in French.' },
            { type: 'text', text: 'No emoji.' },
          ],
        },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Merci' },
      ],
    });
    assert.deepEqual(json.system, [
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Answer in French.' },
      { type: 'text', text: 'No emoji.' },
      { type: 'text', text: 'Be kind.' },
    ]);
    assert.deepEqual(json.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Bonjour' }] },
      { role: 'user', content: [{ type: 'text', text: 'Merci' }] },
    ]);
  });

  test('no system messages means no system field', () => {
    assert.equal(native({}).system, undefined);
  });

  test('consecutive same-role messages merge into one turn', () => {
    const json = native({
      messages: [
        { role: 'user', content: 'One' },
        { role: 'user', content: 'Two' },
        { role: 'assistant', content: 'A' },
        { role: 'assistant', content: 'B' },
        { role: 'user', content: 'Three' },
      ],
    });
    assert.deepEqual(json.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'One' },
          { type: 'text', text: 'Two' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'A' },
          { type: 'text', text: 'B' },
        ],
      },
      { role: 'user', content: [{ type: 'text', text: 'Three' }] },
    ]);
  });

  test('tool calls round-trip: tool_use with parsed input, then one user turn of tool_result blocks (results first)', () => {
    const json = native({
      messages: [
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'toolu_01Weather',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'toolu_02Time', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01Weather', content: '18°C, cloudy' },
        { role: 'tool', tool_call_id: 'toolu_02Time', content: [{ type: 'text', text: '14:05' }] },
        { role: 'user', content: 'Thanks. Summarise.' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
        },
        { type: 'function', function: { name: 'get_time' } },
      ],
    });
    assert.deepEqual(json.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_01Weather', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_02Time', name: 'get_time', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01Weather', content: '18°C, cloudy' },
          { type: 'tool_result', tool_use_id: 'toolu_02Time', content: [{ type: 'text', text: '14:05' }] },
          { type: 'text', text: 'Thanks. Summarise.' },
        ],
      },
    ]);
  });

  test('assistant text comes before its tool_use blocks; refusal parts count as text', () => {
    const json = native({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot do that.' }] },
        { role: 'user', content: 'then call it' },
        {
          role: 'assistant',
          content: 'Calling.',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
      ],
    });
    assert.deepEqual(json.messages[1]?.content, [{ type: 'text', text: 'I cannot do that.' }]);
    assert.deepEqual(json.messages[3]?.content, [
      { type: 'text', text: 'Calling.' },
      { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
    ]);
  });

  test('tool ids minted elsewhere are made to fit ^[a-zA-Z0-9_-]+$, identically on both sides', () => {
    const json = native({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'functions.lookup:0', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'functions.lookup:0', content: 'found' },
      ],
    });
    assert.deepEqual(json.messages[1]?.content[0], {
      type: 'tool_use',
      id: 'functions_lookup_0',
      name: 'lookup',
      input: {},
    });
    assert.deepEqual(json.messages[2]?.content[0], {
      type: 'tool_result',
      tool_use_id: 'functions_lookup_0',
      content: 'found',
    });
  });

  test('an empty tool result is sent without content', () => {
    const json = native({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '' },
      ],
    });
    assert.deepEqual(json.messages[2]?.content, [{ type: 'tool_result', tool_use_id: 'call_1' }]);
  });

  test('a conversation that does not open with a user turn gets a placeholder user turn first', () => {
    const json = native({
      messages: [
        { role: 'system', content: 'Greet.' },
        { role: 'assistant', content: 'Hello, how can I help?' },
        { role: 'user', content: 'Hi' },
      ],
    });
    assert.deepEqual(json.messages[0], { role: 'user', content: [{ type: 'text', text: PLACEHOLDER_USER_TEXT }] });
    assert.equal(json.messages[1]?.role, 'assistant');
  });

  test('a system-only request becomes the system prompt plus the placeholder user turn', () => {
    const json = native({ messages: [{ role: 'system', content: 'Tell a joke.' }] });
    assert.deepEqual(json.system, [{ type: 'text', text: 'Tell a joke.' }]);
    assert.deepEqual(json.messages, [{ role: 'user', content: [{ type: 'text', text: PLACEHOLDER_USER_TEXT }] }]);
  });

  test('a final assistant message is a prefill, without trailing whitespace (Anthropic rejects it)', () => {
    const json = native({
      messages: [
        { role: 'user', content: 'Count' },
        { role: 'assistant', content: 'One, two, \n' },
      ],
    });
    assert.deepEqual(json.messages.at(-1), { role: 'assistant', content: [{ type: 'text', text: 'One, two,' }] });
  });

  test('empty and whitespace-only text is left out (Anthropic rejects empty text blocks)', () => {
    const json = native({
      messages: [
        { role: 'system', content: ' ' },
        {
          role: 'user',
          content: [
            { type: 'text', text: '' },
            { type: 'text', text: 'Hi' },
          ],
        },
        { role: 'assistant', content: '' },
        { role: 'user', content: 'again' },
      ],
    });
    assert.equal(json.system, undefined);
    assert.deepEqual(json.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Hi' },
          { type: 'text', text: 'again' },
        ],
      },
    ]);
  });

  test('tool call arguments that are not a JSON object are a 400 naming them', () => {
    const messages = (args: string) => [
      { role: 'user', content: 'x' },
      { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: args } }] },
    ];
    refuses({ messages: messages('{"a":') }, 'messages[1].tool_calls[0].function.arguments');
    refuses({ messages: messages('[1,2]') }, 'messages[1].tool_calls[0].function.arguments');
  });

  test("the deprecated 'function' role is a 400", () => {
    refuses(
      {
        messages: [
          { role: 'user', content: 'x' },
          { role: 'function', name: 'f', content: '1' },
        ],
      },
      'messages[1].role',
    );
  });

  test('message names are dropped (Anthropic has no per-message name)', () => {
    assert.deepEqual(native({ messages: [{ role: 'user', name: 'alice', content: 'Hi' }] }).messages, [
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
    ]);
  });
});

describe('images and files', () => {
  const user = (part: Record<string, unknown>) => ({
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, part] }],
  });
  const image = (url: string) => user({ type: 'image_url', image_url: { url, detail: 'high' } });

  test('a base64 data URL becomes a base64 source; detail is dropped', () => {
    const json = native(image('data:image/png;base64,iVBORw0KGgo='));
    assert.deepEqual(json.messages[0]?.content[1], {
      type: 'image',
      source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
    });
  });

  test('jpeg, gif and webp are accepted; image/jpg is read as image/jpeg', () => {
    for (const type of ['image/jpeg', 'image/gif', 'image/webp']) {
      assert.deepEqual(native(image(`data:${type};base64,AAAA`)).messages[0]?.content[1], {
        type: 'image',
        source: { type: 'base64', media_type: type, data: 'AAAA' },
      });
    }
    assert.deepEqual(native(image('data:image/jpg;base64,AAAA')).messages[0]?.content[1], {
      type: 'image',
      source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' },
    });
  });

  test('an http(s) URL becomes a url source: Anthropic fetches it, the gateway never does', () => {
    assert.deepEqual(native(image('https://example.com/cat.png')).messages[0]?.content[1], {
      type: 'image',
      source: { type: 'url', url: 'https://example.com/cat.png' },
    });
  });

  test('other image types, non-base64 data URLs and other schemes are a 400 naming the URL', () => {
    const param = 'messages[0].content[1].image_url.url';
    refuses(image('data:image/tiff;base64,AAAA'), param, /image\/tiff/);
    refuses(image('data:image/png,rawbytes'), param, /base64/);
    refuses(image('ftp://example.com/cat.png'), param);
  });

  test('an inline PDF file becomes a document block titled with its file name', () => {
    const json = native(
      user({ type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' } }),
    );
    assert.deepEqual(json.messages[0]?.content[1], {
      type: 'document',
      source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' },
      title: 'report.pdf',
    });
  });

  test('OpenAI file ids, non-PDF files and audio input are a 400', () => {
    refuses(user({ type: 'file', file: { file_id: 'file-abc' } }), 'messages[0].content[1].file', /file ids/);
    refuses(
      user({ type: 'file', file: { file_data: 'data:text/csv;base64,YSxi' } }),
      'messages[0].content[1].file',
      /text\/csv/,
    );
    refuses(
      user({ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }),
      'messages[0].content[1]',
      /Audio/,
    );
  });
});

describe('tools and tool_choice', () => {
  const TOOLS = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather by city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    },
    { type: 'function', function: { name: 'get_time' } },
  ];

  test('function tools become name/description/input_schema; strict is kept; missing parameters are an empty object schema', () => {
    assert.deepEqual(native({ tools: TOOLS }).tools, [
      {
        name: 'get_weather',
        description: 'Weather by city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
      { name: 'get_time', input_schema: { type: 'object', properties: {} } },
    ]);
  });

  test('tool parameters that are not an object schema are a 400', () => {
    refuses(
      { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] },
      'tools[0].function.parameters',
    );
  });

  test('tool_choice: auto → auto, required → any, named → tool, none → none; absent → Anthropic default', () => {
    const cases: Array<[unknown, unknown]> = [
      ['auto', { type: 'auto' }],
      ['required', { type: 'any' }],
      [
        { type: 'function', function: { name: 'get_time' } },
        { type: 'tool', name: 'get_time' },
      ],
      ['none', { type: 'none' }],
      [undefined, undefined],
    ];
    for (const [choice, expected] of cases)
      assert.deepEqual(native({ tools: TOOLS, tool_choice: choice }).tool_choice, expected, JSON.stringify(choice));
  });

  test('parallel_tool_calls: false → disable_parallel_tool_use on every choice that can call tools', () => {
    assert.deepEqual(native({ tools: TOOLS, parallel_tool_calls: false }).tool_choice, {
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    assert.deepEqual(native({ tools: TOOLS, parallel_tool_calls: false, tool_choice: 'required' }).tool_choice, {
      type: 'any',
      disable_parallel_tool_use: true,
    });
    assert.deepEqual(
      native({
        tools: TOOLS,
        parallel_tool_calls: false,
        tool_choice: { type: 'function', function: { name: 'get_time' } },
      }).tool_choice,
      {
        type: 'tool',
        name: 'get_time',
        disable_parallel_tool_use: true,
      },
    );
    assert.deepEqual(native({ tools: TOOLS, parallel_tool_calls: false, tool_choice: 'none' }).tool_choice, {
      type: 'none',
    });
    assert.deepEqual(native({ tools: TOOLS, parallel_tool_calls: true }).tool_choice, undefined);
  });

  test('allowed_tools offers only the allowed tools, with auto or any', () => {
    const json = native({
      tools: TOOLS,
      tool_choice: {
        type: 'allowed_tools',
        allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'get_time' } }] },
      },
    });
    assert.deepEqual(
      json.tools?.map((t) => t.name),
      ['get_time'],
    );
    assert.deepEqual(json.tool_choice, { type: 'any' });
  });

  test('a named tool_choice must name a tool; a forcing tool_choice needs tools', () => {
    refuses(
      { tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice.function.name',
    );
    refuses({ tool_choice: 'required' }, 'tool_choice');
    assert.equal(native({ tool_choice: 'none' }).tool_choice, undefined, 'none/auto without tools need nothing');
  });
});

describe('JSON mode', () => {
  test('json_schema → output_config.format json_schema (constrained decoding; the answer is text)', () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'number' } },
      required: ['answer'],
      additionalProperties: false,
    };
    const json = native({
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
    assert.deepEqual(json.output_config, { format: { type: 'json_schema', schema } });
    assert.equal(json.tools, undefined);
  });

  test('json_schema without a schema is a 400', () => {
    refuses(
      { response_format: { type: 'json_schema', json_schema: { name: 'x' } } },
      'response_format.json_schema.schema',
    );
  });

  test('json_object → a forced tool whose input is the answer', () => {
    const json = native({ response_format: { type: 'json_object' } });
    assert.deepEqual(json.tools, [
      { name: JSON_TOOL_NAME, description: json.tools?.[0]?.description, input_schema: { type: 'object' } },
    ]);
    assert.deepEqual(json.tool_choice, { type: 'tool', name: JSON_TOOL_NAME, disable_parallel_tool_use: true });
    assert.equal(json.output_config, undefined);
  });

  test('json_object with callable tools is a 400; with tool_choice none the tools stay listed but only the JSON tool is forced', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    refuses({ response_format: { type: 'json_object' }, tools }, 'response_format', /json_schema/);
    const json = native({ response_format: { type: 'json_object' }, tools, tool_choice: 'none' });
    assert.deepEqual(
      json.tools?.map((t) => t.name),
      ['f', JSON_TOOL_NAME],
    );
    assert.deepEqual(json.tool_choice, { type: 'tool', name: JSON_TOOL_NAME, disable_parallel_tool_use: true });
  });

  test('a client tool may not take the JSON tool name', () => {
    refuses(
      {
        response_format: { type: 'json_object' },
        tools: [{ type: 'function', function: { name: JSON_TOOL_NAME } }],
        tool_choice: 'none',
      },
      'tools',
    );
  });
});

describe('generation parameters', () => {
  test('stop → stop_sequences (string or list)', () => {
    assert.deepEqual(native({ stop: 'END' }).stop_sequences, ['END']);
    assert.deepEqual(native({ stop: ['a', 'b'] }).stop_sequences, ['a', 'b']);
    assert.equal(native({ stop: [] }).stop_sequences, undefined);
  });

  test('temperature 0–1 and top_p pass through on API version 2023-06-01', () => {
    const json = native({ temperature: 0.7, top_p: 0.9 });
    assert.equal(json.temperature, 0.7);
    assert.equal(json.top_p, 0.9);
    assert.equal(native({ temperature: 0 }).temperature, 0);
    assert.equal(native({ temperature: 1 }).temperature, 1);
  });

  test('temperature above 1 is a 400 naming it, not a silent clamp', () => {
    refuses({ temperature: 1.5 }, 'temperature', /between 0 and 1/);
  });

  test('API version 2026-10-21 refuses temperature and top_p; only their defaults (1) are dropped', () => {
    refuses({ temperature: 0.2 }, 'temperature', /2026-10-21/, claudeNext);
    refuses({ top_p: 0.5 }, 'top_p', /2026-10-21/, claudeNext);
    const json = native({ temperature: 1, top_p: 1 }, claudeNext);
    assert.equal(json.temperature, undefined);
    assert.equal(json.top_p, undefined);
  });

  test('n > 1 is a 400 (Anthropic returns one choice); n = 1 is fine', () => {
    refuses({ n: 2 }, 'n');
    assert.ok(!('n' in native({ n: 1 })));
  });

  test('sampling and output features Anthropic lacks are a 400 naming them when set', () => {
    refuses({ presence_penalty: 0.5 }, 'presence_penalty');
    refuses({ frequency_penalty: -1 }, 'frequency_penalty');
    refuses({ logprobs: true }, 'logprobs');
    refuses({ top_logprobs: 3 }, 'top_logprobs');
    refuses({ logit_bias: { '50256': -100 } }, 'logit_bias');
    refuses({ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } }, 'modalities');
    refuses({ web_search_options: {} }, 'web_search_options');
    refuses({ functions: [{ name: 'f' }] }, 'functions');
  });

  test('their neutral values, seed and other hints are dropped (no change to the answer)', () => {
    const json = native({
      presence_penalty: 0,
      frequency_penalty: 0,
      logprobs: false,
      seed: 7,
      service_tier: 'auto',
      store: false,
      prediction: { type: 'content', content: 'x' },
    });
    for (const key of [
      'presence_penalty',
      'frequency_penalty',
      'logprobs',
      'seed',
      'service_tier',
      'store',
      'prediction',
    ])
      assert.ok(!(key in json), key);
  });

  test('user → metadata.user_id; safety_identifier (its successor) wins when both are set', () => {
    assert.deepEqual(native({ user: 'user-123' }).metadata, { user_id: 'user-123' });
    assert.deepEqual(native({ user: 'user-123', safety_identifier: 'hash-9f2' }).metadata, { user_id: 'hash-9f2' });
    assert.equal(native({}).metadata, undefined);
  });

  test('reasoning_effort → output_config.effort (minimal reads as low; none is the default)', () => {
    assert.deepEqual(native({ reasoning_effort: 'high' }).output_config, { effort: 'high' });
    assert.deepEqual(native({ reasoning_effort: 'minimal' }).output_config, { effort: 'low' });
    assert.equal(native({ reasoning_effort: 'none' }).output_config, undefined);
    refuses({ reasoning_effort: 'extreme' }, 'reasoning_effort');
  });
});

test('checkRequest accepts what buildRequest can build', () => {
  assert.doesNotThrow(() =>
    anthropicProvider.checkRequest(
      request({ temperature: 0.3, stop: 'x', tools: [{ type: 'function', function: { name: 'f' } }] }),
      claude,
    ),
  );
});

test('a whitespace-only stop sequence is a 400 naming stop (Anthropic would reject it after it left)', () => {
  assert.throws(
    () =>
      anthropicProvider.checkRequest(
        parseChatRequest(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stop: ['\n'] })),
        topology.backends.get('claude')!,
      ),
    (err: unknown) => err instanceof UnifiedError && err.param === 'stop',
  );
});
