import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatRequest } from '../unified/chat-request.js';
import { parseChatRequest } from '../unified/chat-request.js';
import { countPromptTokens, countText, encodersLoaded, loadEncoders, TokenizerNotReadyError } from './counter.js';
import { observe } from './estimate.js';

// The example conversation of openai-cookbook "How to count tokens with tiktoken" (section 6), whose prompt_tokens
// the notebook verified against the API: 129 on gpt-3.5-turbo and gpt-4, 124 on gpt-4o and gpt-4o-mini.
const COOKBOOK_MESSAGES: ChatRequest['messages'] = [
  {
    role: 'system',
    content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
  },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: 'system',
    name: 'example_assistant',
    content: "Let's talk later when we're less busy about how to do better.",
  },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

// Section 7: one weather function with a string property and an enum property; verified 105 (gpt-3.5-turbo, gpt-4)
// and 101 (gpt-4o, gpt-4o-mini).
const COOKBOOK_TOOLS: NonNullable<ChatRequest['tools']> = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
];
const COOKBOOK_TOOL_MESSAGES: ChatRequest['messages'] = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

function request(model: string, messages: ChatRequest['messages'], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model, messages, ...extra };
}

test('counting before loadEncoders() throws a clear error', () => {
  assert.equal(encodersLoaded(), false);
  assert.throws(() => countText('gpt-4o', 'hello'), TokenizerNotReadyError);
  assert.throws(() => countPromptTokens(request('gpt-4o', COOKBOOK_MESSAGES)), /await loadEncoders\(\)/);
});

test('loadEncoders() loads once and can be awaited concurrently', async () => {
  await Promise.all([loadEncoders(), loadEncoders()]);
  assert.equal(encodersLoaded(), true);
  await loadEncoders();
});

test('the cookbook conversation: 129 on gpt-3.5-turbo/gpt-4, 124 on gpt-4o/gpt-4o-mini (API-verified totals)', () => {
  for (const model of ['gpt-3.5-turbo', 'gpt-3.5-turbo-0125', 'gpt-4-0613', 'gpt-4', 'gpt-35-turbo']) {
    const count = countPromptTokens(request(model, COOKBOOK_MESSAGES));
    assert.equal(count.tokens, 129, model);
    assert.equal(count.kind, 'exact');
    assert.equal(count.encoding, 'cl100k_base');
    assert.deepEqual(count.approximations, []);
  }
  for (const model of ['gpt-4o', 'gpt-4o-2024-08-06', 'gpt-4o-mini', 'gpt-4o-mini-2024-07-18']) {
    const count = countPromptTokens(request(model, COOKBOOK_MESSAGES));
    assert.equal(count.tokens, 124, model);
    assert.equal(count.encoding, 'o200k_base');
  }
});

test('gpt-3.5-turbo-0301 uses 4 tokens per message and -1 per name', () => {
  // 6 messages × (4 − 3) more, 4 names × (−1 − 1) fewer: 129 + 6 − 8 = 127 (the notebook's 0301 figure).
  assert.equal(countPromptTokens(request('gpt-3.5-turbo-0301', COOKBOOK_MESSAGES)).tokens, 127);
});

test('the cookbook tools example: 105 on gpt-3.5-turbo/gpt-4, 101 on gpt-4o/gpt-4o-mini (API-verified totals)', () => {
  for (const [model, expected] of [
    ['gpt-3.5-turbo', 105],
    ['gpt-4', 105],
    ['gpt-4o', 101],
    ['gpt-4o-mini', 101],
  ] as const) {
    const count = countPromptTokens(request(model, COOKBOOK_TOOL_MESSAGES, { tools: COOKBOOK_TOOLS }));
    assert.equal(count.tokens, expected, model);
    assert.deepEqual(count.approximations, []);
    assert.equal(count.breakdown.tools + count.breakdown.messages, expected);
  }
});

test('a request parsed by parseChatRequest counts the same as the literal', () => {
  const body = JSON.stringify({
    model: 'gpt-4o',
    messages: COOKBOOK_TOOL_MESSAGES,
    tools: COOKBOOK_TOOLS,
    temperature: 0,
  });
  assert.equal(countPromptTokens(parseChatRequest(body)).tokens, 101);
});

test('countText is the bare encoding count; special-token strings are plain text', () => {
  assert.equal(countText('gpt-3.5-turbo', 'tiktoken is great!'), 6); // the notebook's example
  assert.equal(countText('gpt-4o', ''), 0);
  assert.ok(countText('gpt-4o', '<|endoftext|>') > 1);
  assert.ok(countText('gpt-4', '<|im_start|>system<|im_sep|>') > 3);
});

test('a text part counts like the same string content; the model option overrides request.model', () => {
  const asString = countPromptTokens(request('gpt-4o', [{ role: 'user', content: 'Hello there, how are you?' }]));
  const asPart = countPromptTokens(
    request('gpt-4o', [{ role: 'user', content: [{ type: 'text', text: 'Hello there, how are you?' }] }]),
  );
  assert.equal(asPart.tokens, asString.tokens);
  assert.deepEqual(asPart.approximations, []);
  const overridden = countPromptTokens(request('my-alias', COOKBOOK_MESSAGES), { model: 'gpt-4' });
  assert.equal(overridden.tokens, 129);
  assert.equal(overridden.model, 'gpt-4');
});

test('images: 85 for detail low, the tile formula for a data: URL, 765 assumed for a remote URL', () => {
  const base = countPromptTokens(
    request('gpt-4o', [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }] }]),
  ).tokens;
  const withImage = (url: string, detail?: 'low' | 'high' | 'auto') =>
    countPromptTokens(
      request('gpt-4o', [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: detail === undefined ? { url } : { url, detail } },
          ],
        },
      ]),
    );
  const low = withImage('https://example.com/cat.png', 'low');
  assert.equal(low.tokens - base, 85);
  assert.equal(low.breakdown.images, 85);
  assert.deepEqual(low.approximations, ['image']);

  const remote = withImage('https://example.com/cat.png');
  assert.equal(remote.tokens - base, 765);
  assert.deepEqual(remote.approximations, ['image', 'image_size_unknown']);

  // A 2048×4096 PNG header: 1105 tokens in OpenAI's worked example.
  const png = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(png);
  png.write('IHDR', 12, 'latin1');
  png.writeUInt32BE(2048, 16);
  png.writeUInt32BE(4096, 20);
  const sized = withImage(`data:image/png;base64,${png.toString('base64')}`, 'high');
  assert.equal(sized.tokens - base, 1105);
  assert.deepEqual(sized.approximations, ['image']);

  const mini = countPromptTokens(
    request('gpt-4o-mini', [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'low' } }] },
    ]),
  );
  assert.equal(mini.breakdown.images, 2833);
});

test('audio and file parts are flagged, not counted', () => {
  const count = countPromptTokens(
    request('gpt-4o', [
      {
        role: 'user',
        content: [
          { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
          { type: 'file', file: { file_id: 'file-1' } },
        ],
      },
    ]),
  );
  assert.equal(count.tokens, 3 + 1 + 3); // message framing, "user", priming
  assert.deepEqual([...count.approximations].sort(), ['audio', 'file']);
});

test('assistant tool_calls count name + arguments + 3 each; tool results count their content', () => {
  const call = {
    id: 'call_1',
    type: 'function' as const,
    function: { name: 'get_current_weather', arguments: '{"location":"Paris"}' },
  };
  const messages: ChatRequest['messages'] = [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temperature":21}' },
  ];
  const count = countPromptTokens(request('gpt-4o', messages));
  const t = (text: string) => countText('gpt-4o', text);
  const expected =
    3 +
    (3 + t('user') + t('Weather in Paris?')) +
    (3 + t('assistant') + 3 + t('get_current_weather') + t('{"location":"Paris"}')) +
    (3 + t('tool') + t('{"temperature":21}'));
  assert.equal(count.tokens, expected);
  assert.deepEqual(count.approximations, ['tool_calls']);
});

test('nested tool schemas and json_schema response formats are counted as JSON and flagged', () => {
  const tools: NonNullable<ChatRequest['tools']> = [
    {
      type: 'function',
      function: {
        name: 'tag',
        description: 'Tag items.',
        parameters: {
          type: 'object',
          properties: { tags: { type: 'array', description: 'Tags', items: { type: 'string' } } },
        },
      },
    },
  ];
  const flat = countPromptTokens(request('gpt-4o', COOKBOOK_TOOL_MESSAGES, { tools: COOKBOOK_TOOLS }));
  const nested = countPromptTokens(request('gpt-4o', COOKBOOK_TOOL_MESSAGES, { tools }));
  assert.deepEqual(flat.approximations, []);
  assert.deepEqual(nested.approximations, ['tool_schema']);
  const t = (text: string) => countText('gpt-4o', text);
  assert.equal(
    nested.breakdown.tools,
    7 + t('tag:Tag items') + 3 + 3 + t('tags:array:Tags') + t('{"items":{"type":"string"}}') + 12,
  );

  const schema = countPromptTokens(
    request('gpt-4o', COOKBOOK_TOOL_MESSAGES, {
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: { type: 'object' } } },
    }),
  );
  assert.deepEqual(schema.approximations, ['response_format']);
  assert.equal(schema.breakdown.responseFormat, t('{"name":"weather","schema":{"type":"object"}}'));
});

test('models without a public tokenizer get an o200k-based estimate times the learned factor', () => {
  const neutral = countPromptTokens(request('claude-sonnet-4-5', COOKBOOK_MESSAGES));
  assert.equal(neutral.kind, 'estimate');
  assert.equal(neutral.family, 'anthropic');
  assert.equal(neutral.encoding, 'o200k_base');
  assert.equal(neutral.baseTokens, 124); // the gpt-4o count
  assert.equal(neutral.factor, 1);
  assert.equal(neutral.tokens, 124);

  const corrections = observe({}, 'anthropic', 124, 150);
  const corrected = countPromptTokens(request('claude-sonnet-4-5', COOKBOOK_MESSAGES), { corrections });
  assert.equal(corrected.baseTokens, 124);
  assert.equal(corrected.tokens, 150);
  assert.equal(countText('gemini-2.5-flash', 'hello world', { corrections }), countText('gpt-4o', 'hello world'));
  assert.equal(
    countText('claude-3-haiku', 'x '.repeat(100), { corrections }),
    Math.ceil(countText('gpt-4o', 'x '.repeat(100)) * (150 / 124)),
  );
});

test('gpt-oss is counted with o200k text and flagged: the harmony template adds its own preamble', () => {
  const count = countPromptTokens(request('gpt-oss-120b', COOKBOOK_MESSAGES));
  assert.equal(count.kind, 'exact');
  assert.equal(count.encoding, 'o200k_harmony');
  assert.equal(count.tokens, 124);
  assert.deepEqual(count.approximations, ['harmony']);
});

test('a very long run of one character class is counted exactly, in linear time, without an approximation', () => {
  const text = `Header\n${'='.repeat(200_000)}\nbody`;
  const started = performance.now();
  const count = countPromptTokens(request('gpt-4o', [{ role: 'user', content: text }]));
  assert.ok(performance.now() - started < 2000, 'a 200 000-character run must not take seconds');
  assert.deepEqual(count.approximations, []);
  // 3 per message + "user" + the text + 3 for the reply; the run itself is exact (bpe-count.test.ts checks pieces
  // like it against tiktoken).
  assert.equal(count.tokens, 3 + countText('gpt-4o', 'user') + countText('gpt-4o', text) + 3);
});
