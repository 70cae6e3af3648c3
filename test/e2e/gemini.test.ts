// End to end: the official OpenAI SDK → local data plane → both ext_proc stages → a mock that speaks only
// Gemini's native format (Gemini API and Vertex AI). The mock itself is checked against Google's own SDK first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type {
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { GoogleGenAI } from '@google/genai';
import { MOCK_JSON, MOCK_SIGNATURE, MOCK_TEXT, startMockGemini, type MockGemini } from '../support/mock-gemini.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const GEMINI_KEY = 'AIza-e2e-upstream-key';
const ENV_TOKEN = 'ya29.env-token';
const WEATHER: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

describe('Gemini and Vertex backends through the local data plane, with the OpenAI SDK as client', () => {
  let mock: MockGemini;
  let service: Service;
  let client: OpenAI;
  let tokenDir: string;
  let tokenFile: string;

  before(async () => {
    mock = await startMockGemini({ apiKey: GEMINI_KEY, vertexTokens: [ENV_TOKEN, 'ya29.file-token-1'] });
    tokenDir = mkdtempSync(path.join(tmpdir(), 'gemini-e2e-'));
    tokenFile = path.join(tokenDir, 'token');
    writeFileSync(tokenFile, 'ya29.file-token-1\n');
    service = await startTestService(
      `
backends:
  - { name: gemini, provider: gemini, baseUrl: "${mock.geminiBaseUrl}", apiKeyEnv: E2E_GEMINI_KEY }
  - { name: vertex-env, provider: vertex, baseUrl: "${mock.vertexBaseUrl}", project: demo-project, location: us-central1, accessTokenEnv: E2E_VERTEX_TOKEN }
  - { name: vertex-file, provider: vertex, baseUrl: "${mock.vertexBaseUrl}", project: demo-project, location: global, apiVersion: v1beta1, accessTokenFile: "${tokenFile}" }
routes:
  - model: flash
    backends: [{ backend: gemini, model: gemini-2.5-flash }]
  - model: vertex-flash
    backends: [{ backend: vertex-env, model: gemini-2.5-flash }]
  - model: vertex-file-pro
    backends: [{ backend: vertex-file, model: gemini-2.5-pro }]
  - model: missing-model
    backends: [{ backend: gemini, model: gemini-0.1 }]
`,
      { E2E_GEMINI_KEY: GEMINI_KEY, E2E_VERTEX_TOKEN: ENV_TOKEN },
    );
    client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'virtual-key-of-the-client', maxRetries: 0 });
  });

  after(async () => {
    await service.close();
    await mock.close();
    rmSync(tokenDir, { recursive: true, force: true });
  });

  test('the mock speaks what Google’s own SDK speaks (whole, streamed, function calls)', async () => {
    const google = new GoogleGenAI({
      apiKey: GEMINI_KEY,
      httpOptions: { baseUrl: mock.geminiBaseUrl.replace(/\/v1beta$/, '') },
    });
    const whole = await google.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Capital of France?',
      config: { systemInstruction: 'Be brief.' },
    });
    assert.equal(whole.text, MOCK_TEXT);
    assert.equal(whole.usageMetadata?.totalTokenCount, 21);
    let streamed = '';
    for await (const chunk of await google.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'Capital of France?',
    })) {
      streamed += chunk.text ?? '';
    }
    assert.equal(streamed, MOCK_TEXT);
    const call = await google.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Weather?',
      config: {
        tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object' } }] }],
      },
    });
    assert.deepEqual(
      call.functionCalls?.map((c) => c.name),
      ['get_weather'],
    );
    assert.equal(mock.received.at(-1)?.path, '/v1beta/models/gemini-2.5-flash:generateContent');
  });

  test('a non-streaming completion: text, OpenAI usage, Gemini path and key, no client key upstream', async () => {
    const completion = await client.chat.completions.create({
      model: 'flash',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Capital of France?' },
      ],
      temperature: 0.2,
      max_completion_tokens: 64,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'gemini-2.5-flash-001', 'the model that answered (modelVersion)');
    assert.equal(completion.choices[0]?.message.content, MOCK_TEXT);
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(completion.usage, {
      prompt_tokens: 11,
      completion_tokens: 10,
      total_tokens: 21,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 3 },
    });
    const seen = mock.received.at(-1);
    assert.equal(seen?.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(seen?.headers['x-goog-api-key'], GEMINI_KEY);
    assert.equal(seen?.headers.authorization, undefined, 'the client’s key never travels');
    assert.deepEqual(seen?.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
    assert.deepEqual(seen?.body.generationConfig, { temperature: 0.2, maxOutputTokens: 64 });
    const entry = await service.lastRequest();
    assert.equal(entry?.dynamicMetadata['llm-extproc']?.backend, 'gemini');
    assert.equal(entry?.dynamicMetadata['llm-extproc']?.prompt_tokens, 11);
  });

  test('a streamed completion: deltas, finish, usage chunk and [DONE] over alt=sse', async () => {
    const stream = await client.chat.completions.create({
      model: 'flash',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Capital of France?' }],
    });
    let text = '';
    let finish: string | null | undefined;
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, MOCK_TEXT);
    assert.equal(finish, 'stop');
    assert.ok(chunks.length > 3, 'the answer arrived in pieces');
    assert.deepEqual(chunks.at(-1)?.choices, []);
    assert.equal(chunks.at(-1)?.usage?.total_tokens, 21);
    assert.equal(mock.received.at(-1)?.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  test('tools: parallel calls come back as tool_calls, and the results round-trip with names and signatures', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris and Tokyo?' }];
    const TIME: ChatCompletionTool = {
      type: 'function',
      function: { name: 'get_time', parameters: { type: 'object', properties: {} } },
    };
    const first = await client.chat.completions.create({
      model: 'flash',
      messages,
      tools: [WEATHER, TIME],
      tool_choice: 'auto',
    });
    const choice = first.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    const calls = (choice?.message.tool_calls ?? []) as ChatCompletionMessageFunctionToolCall[];
    assert.deepEqual(
      calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
      [
        ['get_weather', { city: 'Paris' }],
        ['get_time', { city: 'Tokyo' }],
      ],
    );
    assert.notEqual(calls[0]?.id, calls[1]?.id);
    assert.deepEqual(mock.received.at(-1)?.body.tools, [
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Current weather for a city',
            parametersJsonSchema: WEATHER.function.parameters,
          },
          { name: 'get_time', parametersJsonSchema: { type: 'object', properties: {} } },
        ],
      },
    ]);

    messages.push(
      choice.message,
      ...calls.map((c, i) => ({ role: 'tool' as const, tool_call_id: c.id, content: JSON.stringify({ result: i }) })),
    );
    const second = await client.chat.completions.create({ model: 'flash', messages, tools: [WEATHER, TIME] });
    assert.equal(second.choices[0]?.finish_reason, 'stop');
    assert.equal(second.choices[0]?.message.content, 'Tool results received: {"result":0} {"result":1}');
    const contents = mock.received.at(-1)?.body.contents as Array<{
      role: string;
      parts: Array<Record<string, unknown>>;
    }>;
    assert.deepEqual(
      contents.map((c) => c.role),
      ['user', 'model', 'user'],
    );
    assert.deepEqual(
      contents[1]?.parts.map((p) => p.thoughtSignature),
      [MOCK_SIGNATURE, MOCK_SIGNATURE],
      'signatures came back',
    );
    assert.deepEqual(contents[2]?.parts, [
      { functionResponse: { name: 'get_weather', response: { result: 0 } } },
      { functionResponse: { name: 'get_time', response: { result: 1 } } },
    ]);
  });

  test('tools streamed: each call is one delta with complete arguments; a named tool_choice forces ANY', async () => {
    const stream = await client.chat.completions.create({
      model: 'flash',
      stream: true,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const calls: Array<{ id?: string; name?: string; arguments?: string }> = [];
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        calls[delta.index] = { id: delta.id, name: delta.function?.name, arguments: delta.function?.arguments };
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls[0]?.arguments ?? ''), { city: 'Paris' });
    assert.deepEqual(mock.received.at(-1)?.body.toolConfig, {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    });
  });

  test('JSON mode and json_schema ask Gemini for application/json', async () => {
    const json = await client.chat.completions.create({
      model: 'flash',
      messages: [{ role: 'user', content: 'Answer in JSON' }],
      response_format: { type: 'json_object' },
    });
    assert.deepEqual(JSON.parse(json.choices[0]?.message.content ?? ''), MOCK_JSON);
    assert.deepEqual(mock.received.at(-1)?.body.generationConfig, { responseMimeType: 'application/json' });
    const schema = {
      type: 'object',
      properties: { answer: { type: 'string' }, confidence: { type: 'number' } },
      required: ['answer'],
    };
    const structured = await client.chat.completions.create({
      model: 'flash',
      messages: [{ role: 'user', content: 'Capital of France?' }],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
    assert.deepEqual(JSON.parse(structured.choices[0]?.message.content ?? ''), MOCK_JSON);
    assert.deepEqual(mock.received.at(-1)?.body.generationConfig, {
      responseMimeType: 'application/json',
      responseJsonSchema: schema,
    });
  });

  test('n = 2 returns two choices; a tiny token limit ends with length', async () => {
    const two = await client.chat.completions.create({
      model: 'flash',
      messages: [{ role: 'user', content: 'Hi' }],
      n: 2,
    });
    assert.deepEqual(
      two.choices.map((c) => c.index),
      [0, 1],
    );
    const short = await client.chat.completions.create({
      model: 'flash',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 2,
    });
    assert.equal(short.choices[0]?.finish_reason, 'length');
  });

  test('RESOURCE_EXHAUSTED reaches the client as a 429 with retry-after from RetryInfo', async (t) => {
    mock.failWith = {
      status: 429,
      body: {
        error: {
          code: 429,
          message: 'Resource has been exhausted (e.g. check quota).',
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7.2s' }],
        },
      },
    };
    t.after(() => {
      mock.failWith = undefined;
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.RateLimitError);
        assert.equal(err.status, 429);
        assert.equal(err.headers?.get('retry-after'), '8');
        assert.equal(err.code, 'rate_limit_exceeded');
        assert.match(err.message, /Resource has been exhausted/);
        return true;
      },
    );
  });

  test('UNAVAILABLE is a 503 and an unknown upstream model a 404, both in the OpenAI shape', async () => {
    mock.failWith = {
      status: 503,
      body: { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } },
    };
    try {
      await assert.rejects(
        client.chat.completions.create({ model: 'flash', messages: [{ role: 'user', content: 'x' }] }),
        (err: unknown) =>
          err instanceof OpenAI.APIError &&
          err.status === 503 &&
          err.type === 'server_error' &&
          /overloaded/.test(err.message),
      );
    } finally {
      mock.failWith = undefined;
    }
    await assert.rejects(
      client.chat.completions.create({ model: 'missing-model', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) =>
        err instanceof OpenAI.NotFoundError && err.code === 'not_found' && /gemini-0\.1/.test(err.message),
    );
  });

  test('a feature Gemini cannot honour is a 400 before anything is sent', async () => {
    const before = mock.received.length;
    await assert.rejects(
      client.chat.completions.create({
        model: 'flash',
        messages: [{ role: 'user', content: 'x' }],
        logit_bias: { '1': 5 },
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'logit_bias',
    );
    assert.equal(mock.received.length, before);
  });

  test('Vertex AI with a token from the environment: regional path and bearer token', async () => {
    const completion = await client.chat.completions.create({
      model: 'vertex-flash',
      messages: [{ role: 'user', content: 'Capital of France?' }],
    });
    assert.equal(completion.choices[0]?.message.content, MOCK_TEXT);
    const seen = mock.received.at(-1);
    assert.equal(
      seen?.path,
      '/v1/projects/demo-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent',
    );
    assert.equal(seen?.headers.authorization, `Bearer ${ENV_TOKEN}`);
  });

  test('Vertex AI with a token file: streamed, and a rotated token is picked up on the next request', async () => {
    const collect = async () => {
      let text = '';
      const stream = await client.chat.completions.create({
        model: 'vertex-file-pro',
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return text;
    };
    assert.equal(await collect(), MOCK_TEXT);
    assert.equal(
      mock.received.at(-1)?.path,
      '/v1beta1/projects/demo-project/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse',
    );
    assert.equal(mock.received.at(-1)?.headers.authorization, 'Bearer ya29.file-token-1');

    mock.vertexTokens.add('ya29.file-token-2');
    writeFileSync(tokenFile, 'ya29.file-token-2');
    assert.equal(await collect(), MOCK_TEXT);
    assert.equal(mock.received.at(-1)?.headers.authorization, 'Bearer ya29.file-token-2');
  });

  test('a missing Vertex token file fails the attempt (a 500 from the data plane) and nothing reaches Vertex', async (t) => {
    const before = mock.received.length;
    rmSync(tokenFile);
    t.after(() => writeFileSync(tokenFile, 'ya29.file-token-1'));
    // The upstream stage closes its gRPC stream with the error; Envoy answers 500 (failure_mode_allow false).
    await assert.rejects(
      client.chat.completions.create({ model: 'vertex-file-pro', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.InternalServerError);
        assert.equal(err.status, 500);
        return true;
      },
    );
    assert.equal(mock.received.length, before, 'nothing reached Vertex');
  });
});
