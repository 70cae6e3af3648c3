// End to end: the official OpenAI SDK → local data plane → both ext_proc stages → a mock that speaks only Cohere v2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { COHERE_RATE_LIMIT_PROMPT, COHERE_TEXT, startMockCohere, type MockCohere } from '../support/mock-cohere.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const WEATHER_TOOL: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('OpenAI SDK → Cohere v2 backend', () => {
  let cohere: MockCohere;
  let service: Service;
  let client: OpenAI;

  before(async () => {
    cohere = await startMockCohere('co-upstream-key');
    service = await startTestService(
      `
backends:
  - { name: cohere, provider: cohere, baseUrl: "${cohere.baseUrl}", apiKeyEnv: E2E_COHERE_KEY }
routes:
  - { model: command, backends: [{ backend: cohere, model: command-a-03-2025 }] }
`,
      { E2E_COHERE_KEY: 'co-upstream-key' },
    );
    client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'client-virtual-key', maxRetries: 0 });
  });

  after(async () => {
    await service.close();
    await cohere.close();
  });

  test('a completion comes back in OpenAI’s shape; the upstream got a Cohere request', async () => {
    const completion = await client.chat.completions.create({
      model: 'command',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      top_p: 0.5,
      max_completion_tokens: 40,
      stop: ['\n\n'],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'command-a-03-2025', 'Cohere names no model: the upstream model the gateway sent');
    assert.equal(completion.choices[0]?.message.content, COHERE_TEXT);
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(completion.usage, {
      prompt_tokens: 80,
      completion_tokens: 6,
      total_tokens: 86,
      prompt_tokens_details: { cached_tokens: 16 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const seen = cohere.received.at(-1);
    assert.equal(seen?.headers.authorization, 'Bearer co-upstream-key', 'the provider key replaces the client key');
    assert.deepEqual(seen?.body, {
      model: 'command-a-03-2025',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
      max_tokens: 40,
      stop_sequences: ['\n\n'],
      p: 0.5,
    });
    assert.equal((await service.lastRequest())?.dynamicMetadata['llm-extproc']?.total_tokens, 86);
  });

  test('a stream delivers the text, and the usage chunk when asked for', async () => {
    const stream = await client.chat.completions.create({
      model: 'command',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    let text = '';
    let finish: string | null | undefined;
    const all: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      all.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, COHERE_TEXT);
    assert.equal(finish, 'stop');
    assert.deepEqual(all.at(-1)?.choices, []);
    assert.equal(all.at(-1)?.usage?.total_tokens, 86);
    assert.equal(cohere.received.at(-1)?.body.stream, true);
  });

  test('tools: a call comes back with its id and arguments, whole and streamed, and the result goes back', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const completion = await client.chat.completions.create({
      model: 'command',
      messages,
      tools: [WEATHER_TOOL],
      tool_choice: 'required',
    });
    const message = completion.choices[0]?.message;
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
    assert.equal(message?.content, 'I will call the tool.');
    const call = message?.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.equal(cohere.received.at(-1)?.body.tool_choice, 'REQUIRED');

    // The SDK's stream helper accumulates tool-call deltas by index, so it checks their shape.
    const streamed = await client.chat.completions
      .stream({
        model: 'command',
        messages,
        tools: [WEATHER_TOOL],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      })
      .finalChatCompletion();
    const streamedCall = streamed.choices[0]?.message.tool_calls?.[0];
    assert.ok(streamedCall && streamedCall.type === 'function');
    assert.equal(streamedCall.id, call.id);
    assert.equal(streamedCall.function.arguments, '{"city":"Paris"}');
    assert.equal(streamed.choices[0]?.finish_reason, 'tool_calls');

    const followUp = await client.chat.completions.create({
      model: 'command',
      tools: [WEATHER_TOOL],
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '18°C and sunny' },
      ],
    });
    assert.equal(followUp.choices[0]?.message.content, 'The tool said: 18°C and sunny');
    const sent = cohere.received.at(-1)?.body.messages as Array<Record<string, unknown>>;
    assert.deepEqual(sent.slice(1), [
      {
        role: 'assistant',
        tool_calls: [
          { id: call.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: call.id, content: '18°C and sunny' },
    ]);
  });

  test('JSON mode asks Cohere for a json_object and the JSON arrives as content', async () => {
    const completion = await client.chat.completions.create({
      model: 'command',
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object', properties: { answer: { type: 'number' } } } },
      },
      messages: [{ role: 'user', content: 'The answer?' }],
    });
    assert.deepEqual(JSON.parse(completion.choices[0]?.message.content ?? ''), { answer: 42 });
    assert.deepEqual(cohere.received.at(-1)?.body.response_format, {
      type: 'json_object',
      json_schema: { type: 'object', properties: { answer: { type: 'number' } } },
    });
  });

  test('a Cohere 429 reaches the client as an OpenAI rate-limit error with retry-after', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'command',
        messages: [{ role: 'user', content: COHERE_RATE_LIMIT_PROMPT }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.RateLimitError);
        assert.equal(err.code, 'rate_limit_exceeded');
        assert.match(err.message, /Trial key/);
        assert.equal(err.headers?.get('retry-after'), '7');
        return true;
      },
    );
  });

  test('a feature Cohere cannot honour is a 400 naming it, and nothing reaches Cohere', async () => {
    const before = cohere.received.length;
    await assert.rejects(
      client.chat.completions.create({ model: 'command', n: 2, messages: [{ role: 'user', content: 'two please' }] }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'n' && /Cohere/.test(err.message),
    );
    assert.equal(cohere.received.length, before);
  });
});
