import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runChecks } from './checks.js';
import { CHECK_NAMES, healthConfigSchema, type CheckName } from './config.js';
import { observeWholeBody, StreamObserver, type ObservedCompletion } from './observe.js';
import type { ChatRequest } from '../unified/chat-request.js';
import { CODE, LOOPED_SENTENCE, PROSE, TABLE } from './fixtures.js';

const config = healthConfigSchema.parse({});
const ALL = new Set<CheckName>(CHECK_NAMES);
const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

function body(message: Record<string, unknown>, finish: string | null = 'stop', usage?: number): ObservedCompletion {
  return observeWholeBody(
    JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
      ...(usage !== undefined
        ? { usage: { prompt_tokens: 1, completion_tokens: usage, total_tokens: usage + 1 } }
        : {}),
    }),
  );
}

function sse(events: unknown[], done = true): ObservedCompletion {
  const o = new StreamObserver(() => 0);
  const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
  // Arbitrary chunk boundaries.
  for (let i = 0; i < text.length; i += 7) o.push(Buffer.from(text.slice(i, i + 7)));
  return o.result(false);
}
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

const weather: ChatRequest = {
  ...base,
  tools: [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
          required: ['city'],
          additionalProperties: false,
        },
      },
    },
  ],
};
const schemaRequest: ChatRequest = {
  ...base,
  response_format: {
    type: 'json_schema',
    json_schema: {
      name: 'person',
      schema: {
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'integer' } },
        required: ['name', 'age'],
        additionalProperties: false,
      },
    },
  },
};
const call = (name: string, args: string) => ({
  tool_calls: [{ id: 'c1', type: 'function', function: { name, arguments: args } }],
  content: null,
});

interface Case {
  name: string;
  request: ChatRequest;
  observed: ObservedCompletion;
  check: CheckName;
  pass: boolean;
}

const cases: Case[] = [
  // empty
  { name: 'empty content', request: base, observed: body({ content: '' }), check: 'empty', pass: false },
  { name: 'whitespace-only content', request: base, observed: body({ content: ' \n ' }), check: 'empty', pass: false },
  { name: 'normal content', request: base, observed: body({ content: 'Hello!' }), check: 'empty', pass: true },
  {
    name: 'tool call without content',
    request: weather,
    observed: body(call('get_weather', '{"city":"Paris"}'), 'tool_calls'),
    check: 'empty',
    pass: true,
  },
  {
    name: 'refusal without content',
    request: base,
    observed: body({ content: null, refusal: 'I cannot help with that.' }),
    check: 'empty',
    pass: true,
  },
  {
    name: 'empty content_filter answer',
    request: base,
    observed: body({ content: '' }, 'content_filter'),
    check: 'empty',
    pass: true,
  },
  {
    name: 'empty stream',
    request: base,
    observed: sse([chunk({ role: 'assistant', content: '' }), chunk({}, 'stop')]),
    check: 'empty',
    pass: false,
  },
  // finish_reason
  {
    name: 'length far below max_tokens',
    request: { ...base, max_tokens: 1000 },
    observed: body({ content: 'Hi' }, 'length', 3),
    check: 'finish_reason',
    pass: false,
  },
  {
    name: 'length at max_tokens',
    request: { ...base, max_tokens: 10 },
    observed: body({ content: 'one two three four' }, 'length', 10),
    check: 'finish_reason',
    pass: true,
  },
  {
    name: 'length without max tokens',
    request: base,
    observed: body({ content: 'Hi' }, 'length', 3),
    check: 'finish_reason',
    pass: true,
  },
  {
    name: 'missing finish_reason (whole body)',
    request: base,
    observed: body({ content: 'Hi' }, null),
    check: 'finish_reason',
    pass: false,
  },
  { name: 'stop', request: base, observed: body({ content: 'Hi' }, 'stop'), check: 'finish_reason', pass: true },
  // json
  {
    name: 'json_object asked, prose answered',
    request: { ...base, response_format: { type: 'json_object' } },
    observed: body({ content: 'Sure! Here it is: {"a":1}' }),
    check: 'json',
    pass: false,
  },
  {
    name: 'json_object asked, array answered',
    request: { ...base, response_format: { type: 'json_object' } },
    observed: body({ content: '[1,2]' }),
    check: 'json',
    pass: false,
  },
  {
    name: 'json_object asked and answered',
    request: { ...base, response_format: { type: 'json_object' } },
    observed: body({ content: '{"a": 1}' }),
    check: 'json',
    pass: true,
  },
  {
    name: 'json_schema violated (missing age)',
    request: schemaRequest,
    observed: body({ content: '{"name":"Ada"}' }),
    check: 'json',
    pass: false,
  },
  {
    name: 'json_schema violated (wrong type)',
    request: schemaRequest,
    observed: body({ content: '{"name":"Ada","age":"36"}' }),
    check: 'json',
    pass: false,
  },
  {
    name: 'json_schema violated (extra property)',
    request: schemaRequest,
    observed: body({ content: '{"name":"Ada","age":36,"x":1}' }),
    check: 'json',
    pass: false,
  },
  {
    name: 'json_schema satisfied',
    request: schemaRequest,
    observed: body({ content: '{"name":"Ada","age":36}' }),
    check: 'json',
    pass: true,
  },
  {
    name: "json truncated by length is not json's verdict",
    request: { ...schemaRequest, max_tokens: 5 },
    observed: body({ content: '{"name":' }, 'length', 5),
    check: 'json',
    pass: true,
  },
  {
    name: 'json_schema satisfied in a stream',
    request: schemaRequest,
    observed: sse([chunk({ content: '{"name":' }), chunk({ content: '"Ada","age":36}' }), chunk({}, 'stop')]),
    check: 'json',
    pass: true,
  },
  // tool calls
  {
    name: 'tool arguments not JSON',
    request: weather,
    observed: body(call('get_weather', '{"city": Paris}'), 'tool_calls'),
    check: 'tool_calls',
    pass: false,
  },
  {
    name: 'tool arguments violate parameters',
    request: weather,
    observed: body(call('get_weather', '{"city":"Paris","days":0}'), 'tool_calls'),
    check: 'tool_calls',
    pass: false,
  },
  {
    name: 'tool arguments missing required',
    request: weather,
    observed: body(call('get_weather', '{"days":2}'), 'tool_calls'),
    check: 'tool_calls',
    pass: false,
  },
  {
    name: 'undeclared tool',
    request: weather,
    observed: body(call('launch_rocket', '{}'), 'tool_calls'),
    check: 'tool_calls',
    pass: false,
  },
  {
    name: 'valid tool call',
    request: weather,
    observed: body(call('get_weather', '{"city":"Paris","days":3}'), 'tool_calls'),
    check: 'tool_calls',
    pass: true,
  },
  {
    name: 'valid tool call streamed in pieces',
    request: weather,
    observed: sse([
      chunk({
        tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'get_weather', arguments: '' } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      chunk({}, 'tool_calls'),
    ]),
    check: 'tool_calls',
    pass: true,
  },
  // repetition
  {
    name: 'looped sentence',
    request: base,
    observed: body({ content: LOOPED_SENTENCE }),
    check: 'repetition',
    pass: false,
  },
  { name: 'prose', request: base, observed: body({ content: PROSE }), check: 'repetition', pass: true },
  {
    name: 'code with repeated lines',
    request: base,
    observed: body({ content: CODE }),
    check: 'repetition',
    pass: true,
  },
  {
    name: 'table with repeated cells',
    request: base,
    observed: body({ content: TABLE }),
    check: 'repetition',
    pass: true,
  },
  // error payload behind a 200
  {
    name: 'error object behind 200',
    request: base,
    observed: observeWholeBody('{"error":{"message":"model overloaded","type":"server_error"}}'),
    check: 'error_payload',
    pass: false,
  },
  {
    name: '200 without choices',
    request: base,
    observed: observeWholeBody('{"id":"x","object":"chat.completion","choices":[]}'),
    check: 'error_payload',
    pass: false,
  },
  {
    name: 'error event inside a stream',
    request: base,
    observed: sse([chunk({ content: 'Hi' }), { error: { message: 'overloaded' } }]),
    check: 'error_payload',
    pass: false,
  },
  { name: 'normal completion', request: base, observed: body({ content: 'Hi' }), check: 'error_payload', pass: true },
  // stream ended without its terminal event
  {
    name: 'stream without finish_reason',
    request: base,
    observed: sse([chunk({ content: 'Hello' }), chunk({ content: ' there' })], false),
    check: 'stream_incomplete',
    pass: false,
  },
  {
    name: 'stream with finish_reason',
    request: base,
    observed: sse([chunk({ content: 'Hello' }), chunk({}, 'stop')]),
    check: 'stream_incomplete',
    pass: true,
  },
];

describe('passive checks', () => {
  for (const c of cases) {
    test(`${c.check}: ${c.pass ? 'passes' : 'flags'} ${c.name}`, () => {
      const results = runChecks(c.request, c.observed, ALL, config);
      const result = results.find((r) => r.check === c.check);
      assert.ok(result, `check ${c.check} ran (got ${results.map((r) => r.check).join(', ')})`);
      assert.equal(result.pass, c.pass, result.detail);
    });
  }

  test('a stream cut mid-way is incomplete even if it had content', () => {
    const o = new StreamObserver(() => 0);
    o.push(`data: ${JSON.stringify(chunk({ content: 'partial' }))}\n\n`);
    const results = runChecks(base, o.result(true), ALL, config);
    assert.equal(results.find((r) => r.check === 'stream_incomplete')?.pass, false);
  });

  test('provider error text quoted in a verdict is redacted', () => {
    const observed = observeWholeBody(
      '{"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijklmnop1234 for org"}}',
    );
    const detail = runChecks(base, observed, ALL, config).find((r) => r.check === 'error_payload')?.detail ?? '';
    assert.doesNotMatch(detail, /abcdefghijklmnop/);
    assert.match(detail, /\[redacted\]/);
  });

  test('disabled checks do not run; route overrides win', async () => {
    const { checksFor } = await import('./config.js');
    const cfg = healthConfigSchema.parse({
      checks: { repetition: false },
      routes: { m: { checks: { repetition: true, empty: false } } },
    });
    assert.equal(checksFor(cfg, 'other').has('repetition'), false);
    assert.equal(checksFor(cfg, 'm').has('repetition'), true);
    assert.equal(checksFor(cfg, 'm').has('empty'), false);
    const results = runChecks(base, body({ content: '' }), checksFor(cfg, 'm'), cfg);
    assert.equal(
      results.some((r) => r.check === 'empty'),
      false,
    );
  });
});

describe('stream observer', () => {
  const tricky = [
    'plain',
    'with "quotes"',
    'back\\slash',
    'new\nline',
    'unicode é ✓ \u0001',
    '"finish_reason":"stop" inside',
    '"index":3 and "error" inside',
    '',
  ];
  test('reads the same content, finish reasons and choices as a full parse, at any chunk boundary', () => {
    const events = [
      ...tricky.map((t, i) => ({
        id: 'c',
        object: 'chat.completion.chunk',
        choices: [{ index: i % 2, delta: { content: t }, logprobs: null, finish_reason: null }],
      })),
      { id: 'c', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      { id: 'c', choices: [{ index: 1, delta: {}, finish_reason: 'length' }] },
    ];
    const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
    for (const step of [1, 5, 64, text.length]) {
      const o = new StreamObserver(() => 0);
      for (let i = 0; i < text.length; i += step) o.push(text.slice(i, i + step));
      const result = o.result(false);
      assert.deepEqual(
        result.choices.map((c) => [c.content, c.finishReason]),
        [
          [tricky.filter((_, i) => i % 2 === 0).join(''), 'stop'],
          [tricky.filter((_, i) => i % 2 === 1).join(''), 'length'],
        ],
      );
      assert.equal(result.complete, true);
      assert.equal(result.errorPayload, undefined);
    }
  });
});
