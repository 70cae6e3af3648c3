// End to end: the official OpenAI SDK → local data plane → both ext_proc stages → a mock Azure OpenAI resource that
// answers only on Azure's deployment path with the api-key header and api-version.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { AZURE_TEXT, startMockAzureOpenAI, type MockAzureOpenAI } from '../support/mock-azure-openai.js';
import { startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('OpenAI SDK → Azure OpenAI backend', () => {
  let azure: MockAzureOpenAI;
  let service: Service;
  let client: OpenAI;

  before(async () => {
    azure = await startMockAzureOpenAI({
      apiKey: 'azure-upstream-key',
      deployment: 'gpt4o-prod',
      apiVersion: '2024-10-21',
    });
    service = await startTestService(
      `
backends:
  - { name: azure, provider: azure-openai, baseUrl: "${azure.baseUrl}", deployment: gpt4o-prod, apiKeyEnv: E2E_AZURE_KEY }
routes:
  - { model: gpt-4o, backends: [{ backend: azure }] }
`,
      { E2E_AZURE_KEY: 'azure-upstream-key' },
    );
    client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'client-virtual-key', maxRetries: 0 });
  });

  after(async () => {
    await service.close();
    await azure.close();
  });

  test('a completion reaches the deployment path with api-key and api-version; filter annotations are kept', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    assert.equal(completion.choices[0]?.message.content, AZURE_TEXT);
    assert.equal(completion.usage?.total_tokens, 22);
    assert.ok('prompt_filter_results' in completion, 'Azure’s prompt filter results stay available to clients');
    const seen = azure.received.at(-1);
    assert.equal(seen?.path, '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21');
    assert.equal(seen?.headers['api-key'], 'azure-upstream-key');
    assert.equal(seen?.headers.authorization, undefined, 'the client’s key does not travel');
  });

  test('a stream arrives without Azure’s filter-only chunk; usage comes when asked for', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(
      chunks[0]?.object,
      'chat.completion.chunk',
      'the first chunk is a real chunk, not the prompt-filter annotation',
    );
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), AZURE_TEXT);
    assert.deepEqual(chunks.at(-1)?.choices, []);
    assert.equal(chunks.at(-1)?.usage?.total_tokens, 22);
    const plain = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    for await (const chunk of plain)
      assert.equal(chunk.choices.length, 1, 'no choices: [] chunks without include_usage');
  });

  test('tools and JSON mode pass through', async () => {
    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const streamed = await client.chat.completions
      .stream({ model: 'gpt-4o', tools, messages: [{ role: 'user', content: 'Weather?' }] })
      .finalChatCompletion();
    const call = streamed.choices[0]?.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.arguments, '{"city":"Paris"}');
    const json = await client.chat.completions.create({
      model: 'gpt-4o',
      response_format: { type: 'json_object' },
      messages: [{ role: 'user', content: 'JSON please' }],
    });
    assert.deepEqual(JSON.parse(json.choices[0]?.message.content ?? ''), { answer: 42 });
  });

  test('Azure’s content_filter error reaches the client as an OpenAI 400', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'something forbidden' }] }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.code, 'content_filter');
        assert.equal(err.param, 'prompt');
        assert.equal(err.type, 'invalid_request_error');
        return true;
      },
    );
  });
});
