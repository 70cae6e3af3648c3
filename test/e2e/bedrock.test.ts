// End to end: the official OpenAI SDK → local data plane → both ext_proc stages → a mock Bedrock Runtime that
// speaks only Converse/ConverseStream and verifies SigV4 signatures (or a Bedrock API key) itself.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const REGION = 'us-east-1';
const CREDENTIALS = {
  accessKeyId: 'AKIDE2EEXAMPLE',
  secretAccessKey: 'e2e/secret+KEY',
  sessionToken: 'e2e-session-token',
};
const API_KEY = 'bedrock-api-key-e2e';
const CLAUDE = 'us.anthropic.claude-3-5-sonnet-20241022-v2:0';
const PROFILE_ARN = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';
const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('Bedrock through the local data plane, with the OpenAI SDK as the client', () => {
  let mock: MockBedrock;
  let service: Service;
  let client: OpenAI;

  before(async () => {
    mock = await startMockBedrock({ region: REGION, credentials: CREDENTIALS, apiKey: API_KEY });
    service = await startTestService(
      `
backends:
  - { name: bedrock-iam, provider: bedrock, region: ${REGION}, baseUrl: "${mock.baseUrl}" }
  - { name: bedrock-key, provider: bedrock, region: ${REGION}, baseUrl: "${mock.baseUrl}", apiKeyEnv: E2E_BEDROCK_API_KEY }
  - name: bedrock-wrong-secret
    provider: bedrock
    region: ${REGION}
    baseUrl: "${mock.baseUrl}"
    accessKeyIdEnv: AWS_ACCESS_KEY_ID
    secretAccessKeyEnv: E2E_WRONG_SECRET
routes:
  - model: claude
    backends: [{ backend: bedrock-iam, model: "${CLAUDE}" }]
  - model: claude-profile
    backends: [{ backend: bedrock-key, model: "${PROFILE_ARN}" }]
  - model: claude-misconfigured
    backends: [{ backend: bedrock-wrong-secret, model: "${CLAUDE}" }]
`,
      {
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
        E2E_BEDROCK_API_KEY: API_KEY,
        E2E_WRONG_SECRET: 'not-the-secret',
      },
    );
    client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'virtual-key-of-the-client', maxRetries: 0 });
  });

  afterEach(() => {
    mock.reply = undefined;
  });

  after(async () => {
    await service.close();
    await mock.close();
  });

  test('a completion: SigV4-signed Converse call, OpenAI-shaped answer with usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'claude',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
      max_completion_tokens: 64,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, CLAUDE, 'Converse names no model: the upstream model id the gateway sent');
    assert.equal(completion.choices[0]?.message.content, 'Paris is the capital of France.');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(completion.usage, {
      prompt_tokens: 122,
      completion_tokens: 8,
      total_tokens: 130,
      prompt_tokens_details: { cached_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });

    const call = mock.received.at(-1);
    assert.equal(call?.auth, 'sigv4', 'the mock verified the signature');
    assert.equal(call?.rawPath, '/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse');
    assert.equal(call?.modelId, CLAUDE);
    assert.equal(call?.headers['x-amz-security-token'], CREDENTIALS.sessionToken);
    assert.deepEqual(call?.body, {
      messages: [{ role: 'user', content: [{ text: 'What is the capital of France?' }] }],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 64 },
    });
    assert.ok(
      !String(call?.headers.authorization).includes('virtual-key-of-the-client'),
      'the client key never reaches Bedrock',
    );

    const entry = await service.lastRequest();
    assert.deepEqual(entry?.dynamicMetadata['llm-extproc'], {
      model: 'claude',
      route: 'llm.claude',
      stream: false,
      backend: 'bedrock-iam',
      status: 200,
      prompt_tokens: 122,
      completion_tokens: 8,
      total_tokens: 130,
      cached_prompt_tokens: 100,
      reasoning_tokens: 0,
      health_verdict: 'pass',
    });
    assert.ok(!JSON.stringify(service.accessLog).includes(CREDENTIALS.secretAccessKey), 'no secret in the access log');
  });

  test('a stream: the binary event stream arrives as SSE chunks, with the usage chunk when asked for', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'claude',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Say hello' }],
      })
      .withResponse();
    assert.match(
      response.headers.get('content-type') ?? '',
      /^text\/event-stream/,
      'the client sees SSE, not the binary stream',
    );
    let text = '';
    let finish: string | null | undefined;
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, 'Hello, wörld ✓');
    assert.equal(finish, 'stop');
    assert.deepEqual(chunks.at(-1)?.choices, []);
    assert.equal(chunks.at(-1)?.usage?.prompt_tokens, 122);
    assert.equal(mock.received.at(-1)?.operation, 'converse-stream');
    assert.equal(
      (await service.lastRequest())?.dynamicMetadata['llm-extproc']?.total_tokens,
      126,
      'usage is recorded for the stream',
    );
  });

  test('a stream without include_usage has no usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude',
      stream: true,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    for await (const chunk of stream) assert.equal(chunk.choices.length, 1);
  });

  test('tools: parallel tool calls come back with Bedrock’s ids, and tool results go back as toolResult blocks', async () => {
    const first = await client.chat.completions.create({
      model: 'claude',
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
    });
    const message = first.choices[0]!.message;
    assert.equal(first.choices[0]?.finish_reason, 'tool_calls');
    const calls = (message.tool_calls ?? []).filter((c) => c.type === 'function');
    assert.deepEqual(
      calls.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)]),
      [
        ['tooluse_Paris01', 'get_weather', { city: 'Paris', unit: 'celsius' }],
        ['tooluse_Tokyo02', 'get_weather', { city: 'Tokyo' }],
      ],
    );
    assert.deepEqual(mock.received.at(-1)?.body.toolConfig, {
      tools: [
        {
          toolSpec: {
            name: 'get_weather',
            description: 'Current weather',
            inputSchema: { json: WEATHER_TOOL.function.parameters },
          },
        },
      ],
    });

    const second = await client.chat.completions.create({
      model: 'claude',
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        message,
        { role: 'tool', tool_call_id: 'tooluse_Paris01', content: '18°C' },
        { role: 'tool', tool_call_id: 'tooluse_Tokyo02', content: '25°C' },
      ],
    });
    assert.equal(second.choices[0]?.finish_reason, 'stop');
    const turns = mock.received.at(-1)?.body.messages as Array<{
      role: string;
      content: Array<Record<string, unknown>>;
    }>;
    assert.deepEqual(
      turns.map((t) => t.role),
      ['user', 'assistant', 'user'],
    );
    assert.deepEqual(turns[2]?.content, [
      { toolResult: { toolUseId: 'tooluse_Paris01', content: [{ text: '18°C' }], status: 'success' } },
      { toolResult: { toolUseId: 'tooluse_Tokyo02', content: [{ text: '25°C' }], status: 'success' } },
    ]);
  });

  test('tools, streamed: argument deltas reassemble into the calls', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude',
      stream: true,
      tool_choice: 'required',
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
    });
    const calls: Array<{ id: string; name: string; args: string }> = [];
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        calls[delta.index] ??= { id: '', name: '', args: '' };
        const call = calls[delta.index]!;
        call.id ||= delta.id ?? '';
        call.name ||= delta.function?.name ?? '';
        call.args += delta.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.deepEqual(
      calls.map((c) => [c.id, c.name, JSON.parse(c.args)]),
      [
        ['tooluse_Paris01', 'get_weather', { city: 'Paris' }],
        ['tooluse_Tokyo02', 'get_weather', { city: 'Tokyo' }],
      ],
    );
    assert.deepEqual((mock.received.at(-1)?.body.toolConfig as { toolChoice: unknown }).toolChoice, { any: {} });
  });

  test('JSON mode: a forced json_response tool upstream, plain JSON content for the client', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, languages: { type: 'array', items: { type: 'string' } } },
      required: ['name'],
    };
    const completion = await client.chat.completions.create({
      model: 'claude',
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema } },
      messages: [{ role: 'user', content: 'Describe Ada.' }],
    });
    assert.deepEqual(JSON.parse(completion.choices[0]?.message.content ?? ''), {
      name: 'Ada',
      languages: ['en', 'fr'],
    });
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.equal(completion.choices[0]?.message.tool_calls, undefined);
    const toolConfig = mock.received.at(-1)?.body.toolConfig as {
      tools: Array<{ toolSpec: { name: string; inputSchema: unknown } }>;
      toolChoice: unknown;
    };
    assert.deepEqual(toolConfig.toolChoice, { tool: { name: 'json_response' } });
    assert.deepEqual(toolConfig.tools[0]?.toolSpec.inputSchema, { json: schema });

    const stream = await client.chat.completions.create({
      model: 'claude',
      stream: true,
      response_format: { type: 'json_object' },
      messages: [{ role: 'user', content: 'Describe Ada as JSON.' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.deepEqual(JSON.parse(text), { name: 'Ada', languages: ['en', 'fr'] });
  });

  test('an API-key backend sends a bearer token, and an inference-profile ARN stays one path segment', async () => {
    const completion = await client.chat.completions.create({
      model: 'claude-profile',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(completion.choices[0]?.message.content, 'Paris is the capital of France.');
    const call = mock.received.at(-1);
    assert.equal(call?.auth, 'api-key');
    assert.equal(
      call?.rawPath,
      `/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse`,
    );
    assert.equal(call?.modelId, PROFILE_ARN);
    assert.equal(call?.headers['x-amz-date'], undefined);
  });

  test('Bedrock errors keep their status in the OpenAI error shape: throttling is a 429', async () => {
    mock.reply = () => ({
      kind: 'error',
      status: 429,
      errorType: 'ThrottlingException',
      message: 'Too many requests, please wait before trying again.',
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.RateLimitError);
        assert.equal(err.status, 429);
        assert.equal(err.type, 'rate_limit_error');
        assert.match(err.message, /Too many requests/);
        return true;
      },
    );
  });

  test('a ValidationException is a 400 with Bedrock’s message', async () => {
    mock.reply = () => ({
      kind: 'error',
      status: 400,
      errorType: 'ValidationException',
      message: 'The model returned the following errors: prompt is too long',
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) =>
        err instanceof OpenAI.BadRequestError &&
        /prompt is too long/.test(err.message) &&
        err.type === 'invalid_request_error',
    );
  });

  test('a model timeout (408) reaches the client as a 504', async () => {
    mock.reply = () => ({
      kind: 'error',
      status: 408,
      errorType: 'ModelTimeoutException',
      message: 'Model has timed out in processing the request.',
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 504,
    );
  });

  test('an exception inside the stream reaches the SDK as an error after the text before it', async () => {
    mock.reply = () => ({
      kind: 'stream',
      events: [
        { messageStart: { role: 'assistant' } },
        { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Once upon' } } },
        { exception: 'modelStreamErrorException', message: 'The model stream failed.' },
      ],
    });
    const stream = await client.chat.completions.create({
      model: 'claude',
      stream: true,
      messages: [{ role: 'user', content: 'Tell a story' }],
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && /The model stream failed/.test(err.message),
    );
    assert.equal(text, 'Once upon');
  });

  test('a wrong secret fails the mock’s signature check: the gateway’s own credentials, so a 502 upstream_authentication_failed (not 403), nothing reaches a model', async () => {
    const before = mock.received.length;
    await assert.rejects(
      client.chat.completions.create({ model: 'claude-misconfigured', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) =>
        err instanceof OpenAI.APIError &&
        err.status === 502 &&
        err.code === 'upstream_authentication_failed' &&
        /bedrock-wrong-secret/.test(err.message),
    );
    assert.equal(mock.received.length, before);
  });

  test('features Bedrock cannot honour are refused by the gateway before anything leaves', async () => {
    const before = mock.received.length;
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', n: 2, messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'n',
    );
    await assert.rejects(
      client.chat.completions.create({
        model: 'claude',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] },
        ],
      }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === 'messages[0].content[0].image_url.url',
    );
    assert.equal(mock.received.length, before);
  });
});
