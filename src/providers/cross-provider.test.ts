// Table-driven checks that hold for every provider at once: hostile path segments, blank text, the order of
// parallel tool results, the explicit top_k extra field, and the `model` the client sees in responses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology, type ResolvedBackend } from '../config/topology.js';
import { configFromYaml } from '../testing/config.js';
import { parseChatRequest, type ChatRequest } from '../unified/chat-request.js';
import { UnifiedError } from '../unified/errors.js';
import { providerFor } from './registry.js';
import { attemptCredentials } from '../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: openai, provider: openai, apiKeyEnv: K }
  - { name: compat, provider: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", apiKeyEnv: K }
  - { name: azure, provider: azure-openai, baseUrl: "https://r.openai.azure.com", deployment: "../../../evil", apiKeyEnv: K }
  - { name: azure-v1, provider: azure-openai, baseUrl: "https://r.openai.azure.com", apiKeyEnv: K }
  - { name: anthropic, provider: anthropic, apiKeyEnv: K }
  - { name: gemini, provider: gemini, apiKeyEnv: K }
  - { name: vertex, provider: vertex, project: "../p", location: us-central1, accessTokenEnv: K }
  - { name: bedrock, provider: bedrock, region: us-east-1, apiKeyEnv: K }
  - { name: cohere, provider: cohere, apiKeyEnv: K }
routes: []
`),
  { K: 'secret' },
);
const backend = (name: string): ResolvedBackend => {
  const found = topology.backends.get(name);
  if (!found) throw new Error(`no backend ${name}`);
  return found;
};
const ALL = ['openai', 'compat', 'azure', 'azure-v1', 'anthropic', 'gemini', 'vertex', 'bedrock', 'cohere'] as const;
const chat = (fields: Record<string, unknown> = {}): ChatRequest =>
  parseChatRequest(JSON.stringify({ model: 'alias', messages: [{ role: 'user', content: 'hi' }], ...fields }));
const build = (name: string, request: ChatRequest, upstreamModel = 'upstream-model') =>
  providerFor(backend(name).provider).buildRequest(request, {
    backend: backend(name),
    upstreamModel,
    now: new Date(),
    credentials: attemptCredentials(backend(name)),
  });
const bodyOf = (name: string, request: ChatRequest, upstreamModel?: string) =>
  JSON.parse(build(name, request, upstreamModel).body.toString()) as Record<string, unknown>;

describe('hostile names from config or client never leave their path segment', () => {
  const HOSTILE = [
    '../../../evil',
    '..',
    '.',
    'a/../../b',
    'x?key=1',
    'x#frag',
    'x%2F..%2Fy',
    'x\r\nInjected: 1',
    'has space',
    'models/../../evil',
    'tunedModels/..',
  ];
  for (const name of ALL) {
    for (const model of HOSTILE) {
      test(`${name}: ${JSON.stringify(model)}`, () => {
        const { path } = build(name, chat({ stream: false }), model);
        const [pathname = '', ...rest] = path.split('?');
        assert.ok(rest.length <= 1, `one query at most: ${path}`);
        assert.ok(!/[\s#]/.test(path), `no whitespace or fragment: ${JSON.stringify(path)}`);
        const segments = pathname.split('/');
        for (const segment of segments) assert.ok(segment !== '..' && segment !== '.', `no dot segment: ${path}`);
        // Where the name is part of the path, it is exactly one segment (decoded once: the name itself).
        const decoded = segments.map((segment) =>
          decodeURIComponent(segment).replace(/:(generateContent|streamGenerateContent)$/, ''),
        );
        if (['gemini', 'vertex', 'bedrock'].includes(name)) {
          assert.ok(decoded.includes(model), `${JSON.stringify(model)} is one segment of ${path}`);
        }
        if (name === 'azure') assert.ok(decoded.includes('../../../evil'), `the deployment is one segment: ${path}`);
        if (name === 'vertex') assert.ok(decoded.includes('../p'), `the project is one segment: ${path}`);
        // The query the provider adds is its own, never the name's.
        if (rest[0] !== undefined) assert.ok(!rest[0].includes('key=1'), path);
      });
    }
  }
});

describe('blank text blocks are dropped for providers that reject them', () => {
  const BLANK_TURNS = [
    { role: 'system', content: '  ' },
    { role: 'user', content: '' },
    {
      role: 'user',
      content: [
        { type: 'text', text: ' \n ' },
        { type: 'text', text: 'hello' },
      ],
    },
    { role: 'assistant', content: '   ' },
    { role: 'user', content: 'again' },
  ];
  /** Every `text` value anywhere in the body. */
  const texts = (value: unknown, out: string[] = []): string[] => {
    if (Array.isArray(value)) for (const item of value) texts(item, out);
    else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'text' && typeof inner === 'string') out.push(inner);
        else texts(inner, out);
      }
    }
    return out;
  };
  for (const name of ['anthropic', 'bedrock', 'gemini', 'vertex'] as const) {
    test(`${name}: no blank text anywhere, the non-blank text kept`, () => {
      const all = texts(bodyOf(name, chat({ messages: BLANK_TURNS })));
      assert.ok(
        all.every((t) => t.trim() !== ''),
        JSON.stringify(all),
      );
      assert.ok(all.includes('hello') && all.includes('again'), JSON.stringify(all));
    });
  }
  for (const name of ['bedrock', 'gemini', 'vertex'] as const) {
    test(`${name}: nothing but blank text is a 400 naming messages`, () => {
      const provider = providerFor(backend(name).provider);
      assert.throws(
        () =>
          provider.checkRequest(
            chat({
              messages: [
                { role: 'user', content: ' ' },
                { role: 'user', content: [{ type: 'text', text: '' }] },
              ],
            }),
            backend(name),
          ),
        (err: unknown) => err instanceof UnifiedError && err.status === 400 && err.param === 'messages',
      );
    });
  }
  test('bedrock: a blank tool result becomes an empty JSON result, never a blank text block', () => {
    const body = bodyOf(
      'bedrock',
      chat({
        tools: [{ type: 'function', function: { name: 'f' } }],
        messages: [
          { role: 'user', content: 'go' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: '' },
        ],
      }),
    );
    const messages = body.messages as Array<{ content: Array<Record<string, unknown>> }>;
    assert.deepEqual(messages.at(-1)?.content, [
      { toolResult: { toolUseId: 'c1', content: [{ json: {} }], status: 'success' } },
    ]);
  });
});

describe('results of parallel tool calls reach every provider paired with their calls, whatever order the client sends', () => {
  const request = chat({
    tools: [
      {
        type: 'function',
        function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ],
    messages: [
      { role: 'user', content: 'Weather in Paris and Tokyo?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_paris', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_tokyo', type: 'function', function: { name: 'weather', arguments: '{"city":"Tokyo"}' } },
        ],
      },
      // Tokyo's result first: the opposite of the call order.
      { role: 'tool', tool_call_id: 'call_tokyo', content: '25C Tokyo' },
      { role: 'tool', tool_call_id: 'call_paris', content: '18C Paris' },
    ],
  });
  /** The results in the order the provider body carries them, each with the id it is paired by (if any). */
  function results(name: string): Array<{ id: string | undefined; text: string }> {
    const body = bodyOf(name, request);
    if (name === 'gemini' || name === 'vertex') {
      // Gemini pairs by position: the n-th functionResponse answers the n-th functionCall.
      const contents = body.contents as Array<{ parts: Array<Record<string, { response?: { content?: string } }>> }>;
      return contents.flatMap((c) =>
        c.parts.flatMap((p) =>
          p.functionResponse ? [{ id: undefined, text: p.functionResponse.response?.content ?? '' }] : [],
        ),
      );
    }
    // Everyone else pairs by id: every object naming a call id, with the result text inside it.
    const found: Array<{ id: string | undefined; text: string }> = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) return value.forEach(walk);
      if (value === null || typeof value !== 'object') return;
      const record = value as Record<string, unknown>;
      const id = record.tool_call_id ?? record.tool_use_id ?? record.toolUseId;
      const text = /\d\dC \w+/.exec(JSON.stringify(record))?.[0];
      if (typeof id === 'string' && text !== undefined && !('tool_calls' in record)) found.push({ id, text });
      else Object.values(record).forEach(walk);
    };
    walk(body);
    return found;
  }
  for (const name of ALL) {
    test(name, () => {
      const got = results(name);
      assert.equal(got.length, 2, JSON.stringify(got));
      for (const result of got) {
        if (result.id === undefined) continue;
        // Paired by id: the id must name the call whose city the result is for.
        assert.ok(result.id.toLowerCase().includes(result.text.split(' ')[1]!.toLowerCase()), JSON.stringify(got));
      }
      if (got.every((r) => r.id === undefined))
        assert.deepEqual(
          got.map((r) => r.text),
          ['18C Paris', '25C Tokyo'],
        );
    });
  }
});

describe('an explicit top_k reaches the providers that have it, under their own name', () => {
  const CASES: Array<{ name: string; model?: string; pick: (body: Record<string, unknown>) => unknown }> = [
    { name: 'anthropic', pick: (b) => b.top_k },
    { name: 'gemini', pick: (b) => (b.generationConfig as Record<string, unknown> | undefined)?.topK },
    { name: 'vertex', pick: (b) => (b.generationConfig as Record<string, unknown> | undefined)?.topK },
    {
      name: 'bedrock',
      model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      pick: (b) => (b.additionalModelRequestFields as Record<string, unknown> | undefined)?.top_k,
    },
    { name: 'cohere', pick: (b) => b.k },
  ];
  for (const c of CASES) {
    test(c.name, () => assert.equal(c.pick(bodyOf(c.name, chat({ top_k: 40 }), c.model)), 40));
  }
  test('bedrock: a model without top_k is a 400 naming it, checked with the endpoint model', () => {
    const provider = providerFor('bedrock');
    assert.throws(
      () => provider.checkRequest(chat({ top_k: 40 }), backend('bedrock'), 'meta.llama3-70b-instruct-v1:0'),
      (err: unknown) => err instanceof UnifiedError && err.param === 'top_k',
    );
    assert.doesNotThrow(() =>
      provider.checkRequest(chat({ top_k: 40 }), backend('bedrock'), 'anthropic.claude-3-haiku-20240307-v1:0'),
    );
  });
  test('an invalid top_k is a 400 everywhere it is mapped', () => {
    for (const name of ['anthropic', 'gemini', 'bedrock', 'cohere']) {
      assert.throws(
        () =>
          providerFor(backend(name).provider).checkRequest(chat({ top_k: -1 }), backend(name), 'anthropic.claude-x'),
        (err: unknown) => err instanceof UnifiedError && err.param === 'top_k',
        name,
      );
    }
  });
});

describe('response `model`: one rule for every provider — the model that answered, as the provider names it', () => {
  const context = {
    request: chat(),
    clientWantsUsage: false,
    requestId: 'req-m',
    created: 1_700_000_000,
    upstreamModel: 'configured-upstream',
  };
  const CASES: Array<{ name: string; body: unknown; want: string }> = [
    {
      name: 'openai (its dated snapshot, passed through)',
      body: {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-2024-08-06',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      },
      want: 'gpt-4o-2024-08-06',
    },
    {
      name: 'compat (the server’s name)',
      body: {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'llama-3.1-8b',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      },
      want: 'llama-3.1-8b',
    },
    {
      name: 'anthropic (its model field)',
      body: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5-20250929',
        content: [{ type: 'text', text: 'hi' }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 1 },
      },
      want: 'claude-sonnet-4-5-20250929',
    },
    {
      name: 'gemini (modelVersion)',
      body: {
        candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP' }],
        modelVersion: 'gemini-2.5-flash-002',
      },
      want: 'gemini-2.5-flash-002',
    },
    {
      name: 'vertex (modelVersion)',
      body: {
        candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP' }],
        modelVersion: 'gemini-2.5-pro',
      },
      want: 'gemini-2.5-pro',
    },
    {
      name: 'bedrock (names none: the upstream model the gateway sent)',
      body: {
        output: { message: { role: 'assistant', content: [{ text: 'hi' }] } },
        stopReason: 'end_turn',
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
      },
      want: 'configured-upstream',
    },
    {
      name: 'cohere (names none: the upstream model the gateway sent)',
      body: {
        id: 'x',
        message: { role: 'assistant', content: [{ type: 'text', text: 'hi' }] },
        finish_reason: 'COMPLETE',
        usage: { tokens: { input_tokens: 1, output_tokens: 1 } },
      },
      want: 'configured-upstream',
    },
  ];
  for (const c of CASES) {
    test(c.name, () => {
      const name = c.name.split(' ')[0]!;
      const raw = Buffer.from(JSON.stringify(c.body));
      const out = providerFor(backend(name).provider).translateResponse(200, raw, context);
      const json = JSON.parse((out.body ?? raw).toString()) as { model?: string };
      assert.equal(json.model, c.want);
    });
  }
  test('streams follow the same rule (anthropic message_start, gemini modelVersion, bedrock the upstream name)', () => {
    const models = (name: string, bytes: Buffer): string[] => {
      const translator = providerFor(backend(name).provider).createStreamTranslator({
        ...context,
        request: chat({ stream: true }),
      });
      const text = Buffer.concat([translator.push(bytes) ?? bytes, translator.end()]).toString();
      return [...text.matchAll(/"model":"([^"]+)"/g)].map((m) => m[1]!);
    };
    const anthropic = Buffer.from(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":0}}}\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    const anthropicModels = models('anthropic', anthropic);
    assert.ok(
      anthropicModels.length > 0 && anthropicModels.every((m) => m === 'claude-haiku-4-5'),
      anthropicModels.join(),
    );
    const gemini = Buffer.from(
      `data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP' }], modelVersion: 'gemini-3-pro-preview' })}\r\n\r\n`,
    );
    const geminiModels = models('gemini', gemini);
    assert.ok(geminiModels.length > 0 && geminiModels.every((m) => m === 'gemini-3-pro-preview'), geminiModels.join());
  });
});
