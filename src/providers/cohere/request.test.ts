import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest, type ChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { cohereProvider } from './index.js';
import { checkCohereRequest, toCohereRequest } from './request.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: co, provider: cohere, apiKeyEnv: CO_KEY }
  - { name: co-proxy, provider: cohere, baseUrl: "http://127.0.0.1:9/cohere/v2", apiKeyEnv: CO_KEY }
routes:
  - { model: command, backends: [{ backend: co, model: command-a-03-2025 }] }
`),
  { CO_KEY: 'co-secret' },
);
const backend = topology.backends.get('co')!;

const request = (extra: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'command', messages: [{ role: 'user', content: 'hi' }], ...extra }));
const native = (extra: Record<string, unknown> = {}) => toCohereRequest(request(extra), 'command-a-03-2025');

function rejects(req: ChatRequest, param: string, pattern: RegExp) {
  assert.throws(
    () => cohereProvider.checkRequest(req, backend),
    (err: unknown) =>
      err instanceof UnifiedError && err.status === 400 && err.param === param && pattern.test(err.message),
  );
}

test('the request goes to {baseUrl}/chat with a bearer key and the backend’s model', () => {
  const out = cohereProvider.buildRequest(request(), {
    backend,
    upstreamModel: 'command-a-03-2025',
    now: new Date(),
    credentials: attemptCredentials(backend),
  });
  assert.equal(out.path, '/v2/chat');
  assert.equal(out.headers.authorization, 'Bearer co-secret');
  assert.equal(out.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(out.body.toString()), {
    model: 'command-a-03-2025',
    messages: [{ role: 'user', content: 'hi' }],
  });
  const proxied = cohereProvider.buildRequest(request(), {
    backend: topology.backends.get('co-proxy')!,
    upstreamModel: 'm',
    now: new Date(),
    credentials: attemptCredentials(topology.backends.get('co-proxy')!),
  });
  assert.equal(proxied.path, '/cohere/v2/chat');
});

test('every system and developer message is kept, in place, as a system message', () => {
  const out = native({
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
      {
        role: 'developer',
        content: [
          { type: 'text', text: 'Answer in French.' },
          { type: 'text', text: ' Politely.' },
        ],
      },
      { role: 'user', content: 'again' },
    ],
  });
  assert.deepEqual(out.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hi' },
    {
      role: 'system',
      content: [
        { type: 'text', text: 'Answer in French.' },
        { type: 'text', text: ' Politely.' },
      ],
    },
    { role: 'user', content: 'again' },
  ]);
});

test('images pass as image_url parts, data URLs and http URLs alike, with their detail', () => {
  const out = native({
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
        ],
      },
    ],
  });
  assert.deepEqual(out.messages[0], {
    role: 'user',
    content: [
      { type: 'text', text: 'Compare' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
    ],
  });
});

test('a tool round trip keeps ids; text next to tool calls becomes the tool plan', () => {
  const out = native({
    messages: [
      { role: 'user', content: 'Weather in Paris and Oslo?' },
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '9°C' }] },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'noop', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'call_3', content: 'done' },
      { role: 'assistant', content: [{ type: 'text', text: 'Paris is warmer.' }] },
    ],
  });
  assert.deepEqual(out.messages.slice(1), [
    {
      role: 'assistant',
      tool_plan: 'Checking both.',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
    { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '9°C' }] },
    {
      role: 'assistant',
      tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'noop', arguments: '{}' } }],
    },
    { role: 'tool', tool_call_id: 'call_3', content: 'done' },
    { role: 'assistant', content: 'Paris is warmer.' },
  ]);
});

test('sampling parameters are renamed; top_p is clamped into Cohere’s 0.01–0.99', () => {
  const out = native({
    temperature: 1.4,
    top_p: 0.5,
    seed: 7,
    stop: 'END',
    max_tokens: 50,
    frequency_penalty: 0.2,
    presence_penalty: 0.1,
  });
  assert.deepEqual(
    { ...out, messages: undefined },
    {
      model: 'command-a-03-2025',
      messages: undefined,
      temperature: 1.4,
      p: 0.5,
      seed: 7,
      stop_sequences: ['END'],
      max_tokens: 50,
      frequency_penalty: 0.2,
      presence_penalty: 0.1,
    },
  );
  assert.equal(native({ top_p: 1 }).p, 0.99);
  assert.equal(native({ top_p: 0 }).p, 0.01);
  assert.deepEqual(native({ stop: ['a', 'b', 'c', 'd'] }).stop_sequences, ['a', 'b', 'c', 'd']);
});

test('max_completion_tokens wins over max_tokens', () => {
  assert.equal(native({ max_tokens: 10, max_completion_tokens: 20 }).max_tokens, 20);
  assert.equal(native({ max_completion_tokens: 30 }).max_tokens, 30);
});

test('user, names and other metadata without a Cohere counterpart are dropped', () => {
  const out = native({
    user: 'u-1',
    store: true,
    metadata: { a: 'b' },
    messages: [{ role: 'user', content: 'hi', name: 'ann' }],
  });
  assert.deepEqual(out, { model: 'command-a-03-2025', messages: [{ role: 'user', content: 'hi' }] });
});

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather now',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
  },
  { type: 'function', function: { name: 'get_time' } },
];

test('tools are sent as Cohere function tools; a tool without parameters gets an empty object schema', () => {
  const out = native({ tools: TOOLS });
  assert.deepEqual(out.tools, [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather now',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    },
    { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
  ]);
  assert.equal(out.tool_choice, undefined);
  assert.equal(out.strict_tools, undefined);
  assert.equal(native({ tools: [{ ...TOOLS[1], function: { name: 'get_time', strict: true } }] }).strict_tools, true);
});

test('tool_choice: auto is the default, none and required map, a named tool is REQUIRED with only that tool', () => {
  assert.equal(native({ tools: TOOLS, tool_choice: 'auto' }).tool_choice, undefined);
  assert.equal(native({ tools: TOOLS, tool_choice: 'none' }).tool_choice, 'NONE');
  assert.equal(native({ tools: TOOLS, tool_choice: 'required' }).tool_choice, 'REQUIRED');
  const named = native({ tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } } });
  assert.equal(named.tool_choice, 'REQUIRED');
  assert.deepEqual(
    named.tools?.map((t) => t.function.name),
    ['get_time'],
  );
  const allowed = native({
    tools: TOOLS,
    tool_choice: {
      type: 'allowed_tools',
      allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'get_weather' } }] },
    },
  });
  assert.equal(allowed.tool_choice, undefined);
  assert.deepEqual(
    allowed.tools?.map((t) => t.function.name),
    ['get_weather'],
  );
  assert.equal(native({ tool_choice: 'none' }).tool_choice, undefined, 'none without tools needs no field');
});

test('JSON mode and json_schema become response_format json_object (with the schema)', () => {
  assert.deepEqual(native({ response_format: { type: 'json_object' } }).response_format, { type: 'json_object' });
  const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
  assert.deepEqual(
    native({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } })
      .response_format,
    {
      type: 'json_object',
      json_schema: schema,
    },
  );
  assert.equal(native({ response_format: { type: 'text' } }).response_format, undefined);
});

test('reasoning_effort switches Cohere thinking on, or off for "none"', () => {
  assert.deepEqual(native({ reasoning_effort: 'high' }).thinking, { type: 'enabled' });
  assert.deepEqual(native({ reasoning_effort: 'none' }).thinking, { type: 'disabled' });
  assert.equal(native().thinking, undefined);
});

test('streaming requests say so', () => {
  assert.equal(native({ stream: true, stream_options: { include_usage: true } }).stream, true);
  assert.equal('stream_options' in native({ stream: true }), false);
});

test('what Cohere cannot honour is a 400 naming the field', () => {
  rejects(request({ n: 2 }), 'n', /one choice/);
  rejects({ ...request(), stop: ['1', '2', '3', '4', '5', '6'] }, 'stop', /at most 5/);
  rejects(request({ frequency_penalty: -0.5 }), 'frequency_penalty', /between 0 and 1/);
  rejects(request({ presence_penalty: 1.5 }), 'presence_penalty', /between 0 and 1/);
  rejects(request({ logprobs: true }), 'logprobs', /logprobs/);
  rejects(request({ logit_bias: { '50256': -100 } }), 'logit_bias', /logit_bias/);
  rejects(request({ parallel_tool_calls: false }), 'parallel_tool_calls', /parallel_tool_calls/);
  rejects(request({ modalities: ['text', 'audio'] }), 'modalities', /text output/);
  rejects(
    request({
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }],
    }),
    'messages[0].content[0].type',
    /Audio input/,
  );
  rejects(
    request({ messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'f1' } }] }] }),
    'messages[0].content[0].type',
    /File input/,
  );
  rejects(request({ messages: [{ role: 'function', name: 'f', content: 'x' }] }), 'messages[0].role', /function/);
  rejects(
    request({ tools: TOOLS, tool_choice: { type: 'function', function: { name: 'missing' } } }),
    'tool_choice',
    /missing/,
  );
  rejects(request({ tool_choice: 'required' }), 'tool_choice', /needs 'tools'/);
  assert.match(
    (() => {
      try {
        checkCohereRequest(request({ n: 3 }));
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })(),
    /not supported by Cohere backends/,
  );
});

test('what Cohere can honour passes the check', () => {
  cohereProvider.checkRequest(
    request({
      n: 1,
      logprobs: false,
      stop: ['a', 'b', 'c', 'd'],
      frequency_penalty: 0,
      tools: TOOLS,
      tool_choice: 'required',
    }),
    backend,
  );
});
