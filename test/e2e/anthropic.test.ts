// End to end: the official OpenAI SDK → local data plane → both ext_proc stages → a mock that speaks only
// Anthropic's Messages API. The client never sees Anthropic's format; the mock never sees OpenAI's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import {
  CLAUDE_TEXT,
  DEFAULT_USAGE,
  JSON_ANSWER,
  startMockAnthropic,
  type MockAnthropic,
} from '../support/mock-anthropic.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const MODEL = 'claude-sonnet';
const UPSTREAM_MODEL = 'claude-sonnet-4-5-20250929';
const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather by city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];

describe('Anthropic backend through the local data plane, with the OpenAI SDK as client', () => {
  let mock: MockAnthropic;
  let service: Service;
  let client: OpenAI;

  /** The last body the mock accepted; the mock has checked it against Anthropic's rules. */
  const sent = () => mock.received.at(-1)?.body as unknown as MessageCreateParamsBase;

  before(async () => {
    mock = await startMockAnthropic({ apiKey: 'sk-ant-upstream' });
    service = await startTestService(
      `
backends:
  - { name: claude, provider: anthropic, baseUrl: "${mock.baseUrl}", apiKeyEnv: E2E_ANTHROPIC_KEY, defaultMaxTokens: 512 }
routes:
  - model: ${MODEL}
    backends: [{ backend: claude, model: ${UPSTREAM_MODEL} }]
`,
      { E2E_ANTHROPIC_KEY: 'sk-ant-upstream' },
    );
    client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'virtual-key-of-the-client', maxRetries: 0 });
  });

  after(async () => {
    await service.close();
    await mock.close();
  });

  test('non-streaming: an OpenAI completion with OpenAI usage; the upstream got a native Messages request', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Say hello' },
      ],
      user: 'user-1234',
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(
      completion.model,
      UPSTREAM_MODEL,
      'the model that answered (Anthropic names it), docs/providers/README.md',
    );
    assert.equal(completion.choices[0]?.message.content, CLAUDE_TEXT);
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    const prompt = DEFAULT_USAGE.input + DEFAULT_USAGE.cacheRead + DEFAULT_USAGE.cacheCreation;
    assert.equal(completion.usage?.prompt_tokens, prompt);
    assert.equal(completion.usage?.completion_tokens, DEFAULT_USAGE.output);
    assert.equal(completion.usage?.prompt_tokens_details?.cached_tokens, DEFAULT_USAGE.cacheRead);

    const seen = mock.received.at(-1);
    assert.equal(seen?.path, '/v1/messages');
    assert.equal(seen?.headers['x-api-key'], 'sk-ant-upstream');
    assert.equal(seen?.headers['anthropic-version'], '2023-06-01');
    assert.equal(seen?.headers.authorization, undefined, "the client's key does not travel upstream");
    assert.deepEqual(sent(), {
      model: UPSTREAM_MODEL,
      max_tokens: 512,
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Answer in English.' },
      ],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }],
      metadata: { user_id: 'user-1234' },
    });
    const entry = await service.lastRequest();
    assert.deepEqual(entry?.dynamicMetadata['llm-extproc'], {
      model: MODEL,
      route: `llm.${MODEL}`,
      stream: false,
      backend: 'claude',
      status: 200,
      prompt_tokens: prompt,
      completion_tokens: DEFAULT_USAGE.output,
      total_tokens: prompt + DEFAULT_USAGE.output,
      cached_prompt_tokens: DEFAULT_USAGE.cacheRead,
      reasoning_tokens: 0,
      health_verdict: 'pass',
    });
  });

  test('streaming: a role chunk first, the whole text (multi-byte characters intact), finish stop, usage chunk last', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 100,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), CLAUDE_TEXT);
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(chunks.at(-1)?.choices, []);
    assert.equal(chunks.at(-1)?.usage?.completion_tokens, DEFAULT_USAGE.output);
    assert.equal(sent().stream, true);
    assert.equal(sent().max_tokens, 100);
  });

  test('tools: parallel tool calls come back as tool_calls, and their results go back as tool_result blocks', async (t) => {
    mock.reply = {
      content: [
        { type: 'text', text: 'Checking both.' },
        { type: 'tool_use', id: 'toolu_01Weather', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_02Time', name: 'get_time', input: {} },
      ],
      stopReason: 'tool_use',
    };
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Weather and time in Paris?' },
    ];
    t.after(() => {
      mock.reply = undefined;
    });
    const first = await client.chat.completions.create({ model: MODEL, messages, tools: TOOLS, tool_choice: 'auto' });
    const choice = first.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    assert.deepEqual(
      choice?.message.tool_calls?.map((call) =>
        call.type === 'function' ? [call.id, call.function.name, JSON.parse(call.function.arguments)] : [],
      ),
      [
        ['toolu_01Weather', 'get_weather', { city: 'Paris' }],
        ['toolu_02Time', 'get_time', {}],
      ],
    );
    assert.deepEqual(sent().tool_choice, { type: 'auto' });
    assert.deepEqual(
      sent().tools?.map((tool) => ('name' in tool ? tool.name : '')),
      ['get_weather', 'get_time'],
    );

    mock.reply = undefined;
    const assistant = choice?.message;
    assert.ok(assistant);
    messages.push(
      assistant,
      { role: 'tool', tool_call_id: 'toolu_01Weather', content: '18°C' },
      { role: 'tool', tool_call_id: 'toolu_02Time', content: '14:05' },
    );
    const second = await client.chat.completions.create({ model: MODEL, messages, tools: TOOLS });
    assert.equal(second.choices[0]?.message.content, CLAUDE_TEXT);
    assert.deepEqual(sent().messages.at(-1), {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01Weather', content: '18°C' },
        { type: 'tool_result', tool_use_id: 'toolu_02Time', content: '14:05' },
      ],
    });
  });

  test('tools, streaming: the SDK assembles the tool-call deltas into complete calls', async (t) => {
    mock.reply = {
      content: [
        { type: 'tool_use', id: 'toolu_01Weather', name: 'get_weather', input: { city: 'Saint-Étienne' } },
        { type: 'tool_use', id: 'toolu_02Time', name: 'get_time', input: {} },
      ],
      stopReason: 'tool_use',
    };
    t.after(() => {
      mock.reply = undefined;
    });
    const runner = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: TOOLS,
      parallel_tool_calls: false,
      tool_choice: 'required',
    });
    const final = await runner.finalChatCompletion();
    const calls = final.choices[0]?.message.tool_calls ?? [];
    assert.deepEqual(
      calls.map((call) =>
        call.type === 'function' ? [call.id, call.function.name, JSON.parse(call.function.arguments)] : [],
      ),
      [
        ['toolu_01Weather', 'get_weather', { city: 'Saint-Étienne' }],
        ['toolu_02Time', 'get_time', {}],
      ],
    );
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');
    assert.deepEqual(sent().tool_choice, { type: 'any', disable_parallel_tool_use: true });
  });

  test('JSON mode (json_object): the answer is JSON content with finish_reason stop, streamed or not', async () => {
    const request = {
      model: MODEL,
      response_format: { type: 'json_object' as const },
      messages: [{ role: 'user' as const, content: 'Reply in JSON.' }],
    };
    const completion = await client.chat.completions.create(request);
    assert.deepEqual(JSON.parse(completion.choices[0]?.message.content ?? ''), JSON_ANSWER);
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.equal(completion.choices[0]?.message.tool_calls, undefined);
    assert.equal(sent().tool_choice?.type, 'tool', 'emulated with a forced tool');

    const stream = await client.chat.completions.create({ ...request, stream: true });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      assert.equal(chunk.choices[0]?.delta.tool_calls, undefined);
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.deepEqual(JSON.parse(text), JSON_ANSWER);
    assert.equal(finish, 'stop');
  });

  test('JSON schema: sent as output_config.format, answered as JSON text', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'number' }, unit: { type: 'string' } },
      required: ['answer', 'unit'],
      additionalProperties: false,
    };
    const completion = await client.chat.completions.create({
      model: MODEL,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      messages: [{ role: 'user', content: 'The answer?' }],
    });
    assert.deepEqual(JSON.parse(completion.choices[0]?.message.content ?? ''), JSON_ANSWER);
    assert.deepEqual(sent().output_config, { format: { type: 'json_schema', schema } });
  });

  test('a feature Anthropic cannot honour is a 400 naming it, and nothing reaches the upstream', async () => {
    const before = mock.received.length;
    for (const [extra, param] of [
      [{ temperature: 1.5 }, 'temperature'],
      [{ n: 2 }, 'n'],
      [{ logprobs: true }, 'logprobs'],
    ] as const) {
      await assert.rejects(
        client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], ...extra }),
        (err: unknown) => {
          assert.ok(err instanceof OpenAI.BadRequestError, String(err));
          assert.equal(err.param, param);
          return true;
        },
      );
    }
    assert.equal(mock.received.length, before);
  });

  test('an Anthropic 400 reaches the client as an OpenAI-shaped 400', async (t) => {
    mock.failWith = {
      status: 400,
      type: 'invalid_request_error',
      message: 'prompt is too long: 210000 tokens > 200000 maximum',
    };
    t.after(() => {
      mock.failWith = undefined;
    });
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.match(err.message, /prompt is too long/);
        assert.equal(err.code, 'invalid_request_error');
        assert.equal(err.type, 'invalid_request_error');
        return true;
      },
    );
  });

  test('429 stays 429 with its retry-after; 529 overloaded becomes 503', async (t) => {
    mock.failWith = {
      status: 429,
      type: 'rate_limit_error',
      message: 'Number of request tokens has exceeded your per-minute rate limit',
      headers: { 'retry-after': '7' },
    };
    t.after(() => {
      mock.failWith = undefined;
    });
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.RateLimitError);
        assert.equal(err.headers?.get('retry-after'), '7');
        assert.equal(err.code, 'rate_limit_error');
        return true;
      },
    );
    mock.failWith = { status: 529, type: 'overloaded_error', message: 'Overloaded' };
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.InternalServerError);
        assert.equal(err.status, 503);
        assert.equal(err.code, 'overloaded_error');
        return true;
      },
    );
  });

  test('an error inside the stream reaches the SDK as an error after the text so far', async (t) => {
    mock.streamError = true;
    t.after(() => {
      mock.streamError = false;
    });
    const stream = await client.chat.completions.create({
      model: MODEL,
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.match(err.message, /Overloaded/);
        assert.match(err.message, /\(request id: [0-9a-f-]{36}\)/, 'a stream error names the request id too');
        return true;
      },
    );
    assert.equal(text, CLAUDE_TEXT, 'the text streamed before the error was delivered');
  });
});
