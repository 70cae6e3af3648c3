// The results of two parallel calls to the same function, sent back in the opposite order of the calls, reach every
// provider paired with their calls (through a real Envoy). Gemini pairs function responses by position, so the
// gateway restores call order; the others pair by id, which must name the matching call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { toolCallId } from '../../src/providers/gemini/tool-ids.js';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic.js';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock.js';
import { startMockCohere, type MockCohere } from '../support/mock-cohere.js';
import { MOCK_SIGNATURE, startMockGemini, type MockGemini } from '../support/mock-gemini.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';

let openai: MockOpenAI;
let claude: MockAnthropic;
let gemini: MockGemini;
let bedrock: MockBedrock;
let cohere: MockCohere;
let service: TestService;
let client: OpenAI;

before(async () => {
  openai = await startMockOpenAI();
  claude = await startMockAnthropic({ apiKey: 'sk-ant-tr' });
  gemini = await startMockGemini({ apiKey: 'AIza-tr' });
  bedrock = await startMockBedrock({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTR', secretAccessKey: 'tr/secret' },
    apiKey: 'br-key-tr',
  });
  cohere = await startMockCohere('co-tr');
  service = await startTestService(
    `
backends:
  - { name: local, provider: openai-compatible, baseUrl: "${openai.baseUrl}" }
  - { name: claude, provider: anthropic, baseUrl: "${claude.baseUrl}", apiKeyEnv: TR_ANTHROPIC }
  - { name: gemini, provider: gemini, baseUrl: "${gemini.geminiBaseUrl}", apiKeyEnv: TR_GEMINI }
  - { name: bedrock, provider: bedrock, region: us-east-1, baseUrl: "${bedrock.baseUrl}", apiKeyEnv: TR_BEDROCK }
  - { name: cohere, provider: cohere, baseUrl: "${cohere.baseUrl}", apiKeyEnv: TR_COHERE }
routes:
  - { model: local, backends: [{ backend: local }] }
  - { model: claude, backends: [{ backend: claude, model: claude-sonnet-4-5 }] }
  - { model: gemini, backends: [{ backend: gemini, model: gemini-2.5-flash }] }
  - { model: bedrock, backends: [{ backend: bedrock, model: "anthropic.claude-3-5-sonnet-20241022-v2:0" }] }
  - { model: cohere, backends: [{ backend: cohere, model: command-a-03-2025 }] }
`,
    { TR_ANTHROPIC: 'sk-ant-tr', TR_GEMINI: 'AIza-tr', TR_BEDROCK: 'br-key-tr', TR_COHERE: 'co-tr' },
  );
  client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'client-key', maxRetries: 0 });
});

after(async () => {
  await service.close();
  await Promise.all([openai.close(), claude.close(), gemini.close(), bedrock.close(), cohere.close()]);
});

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** Two calls to one function (Paris first), and their results sent back Tokyo first. */
function conversation(paris: string, tokyo: string): OpenAI.Chat.ChatCompletionMessageParam[] {
  return [
    { role: 'user', content: 'Weather in Paris and in Tokyo?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: paris, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: tokyo, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
      ],
    },
    { role: 'tool', tool_call_id: tokyo, content: '25C in Tokyo' },
    { role: 'tool', tool_call_id: paris, content: '18C in Paris' },
  ];
}

/** Every object in `value` that names a call id (any provider's key) with the result text inside it. */
function resultsById(
  value: unknown,
  keys: readonly string[],
  out: Array<[string, string]> = [],
): Array<[string, string]> {
  if (Array.isArray(value)) value.forEach((v) => resultsById(v, keys, out));
  else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const key = keys.find((k) => typeof record[k] === 'string');
    const text = /\d\dC in \w+/.exec(JSON.stringify(record))?.[0];
    if (key && text && !('tool_calls' in record) && !('toolUse' in record)) out.push([record[key] as string, text]);
    else Object.values(record).forEach((v) => resultsById(v, keys, out));
  }
  return out;
}

const ID_KEYS = ['tool_call_id', 'tool_use_id', 'toolUseId'];

for (const [model, received] of [
  ['local', () => openai.received.at(-1)?.body],
  ['claude', () => claude.received.at(-1)?.body],
  ['bedrock', () => bedrock.received.at(-1)?.body],
  ['cohere', () => cohere.received.at(-1)?.body],
] as const) {
  test(`${model}: each result carries the id of its own call`, async () => {
    await client.chat.completions.create({
      model,
      messages: conversation('call_paris', 'call_tokyo'),
      tools: [WEATHER],
    });
    const pairs = resultsById(received(), ID_KEYS);
    assert.equal(pairs.length, 2, JSON.stringify(received()));
    for (const [id, text] of pairs)
      assert.ok(id.toLowerCase().includes(text.split(' ').at(-1)!.toLowerCase()), `${id} ↔ ${text}`);
  });
}

test('gemini: function responses arrive in call order (Gemini pairs by position)', async () => {
  // Ids as the gateway mints them for Gemini 3 calls: the thought signature rides in the id.
  const id = (ordinal: number) =>
    toolCallId({ providerId: undefined, responseId: 'r1', candidate: 0, ordinal, signature: MOCK_SIGNATURE });
  const completion = await client.chat.completions.create({
    model: 'gemini',
    messages: conversation(id(0), id(1)),
    tools: [WEATHER],
  });
  assert.ok(completion.choices[0]?.message.content);
  const body = gemini.received.at(-1)?.body as {
    contents: Array<{
      role: string;
      parts: Array<{ functionCall?: { args: { city: string } }; functionResponse?: { response: { content: string } } }>;
    }>;
  };
  const calls = body.contents.flatMap((c) =>
    c.parts.flatMap((p) => (p.functionCall ? [p.functionCall.args.city] : [])),
  );
  const results = body.contents.flatMap((c) =>
    c.parts.flatMap((p) => (p.functionResponse ? [p.functionResponse.response.content] : [])),
  );
  assert.deepEqual(calls, ['Paris', 'Tokyo']);
  assert.deepEqual(results, ['18C in Paris', '25C in Tokyo']);
});

test('bedrock: an empty or whitespace-only user message merged into the next user turn sends no blank text block', async () => {
  const completion = await client.chat.completions.create({
    model: 'bedrock',
    messages: [
      { role: 'system', content: ' ' },
      { role: 'user', content: '' },
      {
        role: 'user',
        content: [
          { type: 'text', text: '  ' },
          { type: 'text', text: 'Hello?' },
        ],
      },
    ],
  });
  assert.ok(completion.choices[0]?.message.content);
  const body = bedrock.received.at(-1)?.body as {
    messages: Array<{ role: string; content: Array<{ text?: string }> }>;
    system?: unknown;
  };
  assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: 'Hello?' }] }]);
  assert.equal(body.system, undefined);
  // Nothing but blank text: a 400 from the gateway, before anything leaves.
  const before = bedrock.received.length;
  await assert.rejects(
    client.chat.completions.create({ model: 'bedrock', messages: [{ role: 'user', content: ' \n ' }] }),
    (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'messages',
  );
  assert.equal(bedrock.received.length, before);
});
