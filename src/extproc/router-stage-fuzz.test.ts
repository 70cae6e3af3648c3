// Bad input never crashes the service: mutated requests, routed to a model every provider serves, always end in
// a 4xx in the OpenAI shape (validation, or a provider's checkRequest naming what it cannot honour) or in
// routing — never in a 500, which would mean an unexpected exception somewhere on the request path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml } from '../testing/config.js';
import { mulberry32 } from '../testing/random.js';
import { RouterStage } from './router-stage.js';
import { UpstreamStage } from './upstream-stage.js';
import { CHAT_HEADERS, requestBody, requestHeaders } from './testing.js';

const snapshot = snapshotFromYaml(
  `
backends:
  - { name: oai, provider: openai, apiKeyEnv: K }
  - { name: compat, provider: openai-compatible, baseUrl: "http://127.0.0.1:9/v1", compat: { maxN: 1, toolCallIds: mistral } }
  - { name: azure, provider: azure-openai, baseUrl: "https://r.openai.azure.com", deployment: d, apiKeyEnv: K }
  - { name: claude, provider: anthropic, apiKeyEnv: K }
  - { name: gem, provider: gemini, apiKeyEnv: K }
  - { name: vtx, provider: vertex, project: p, location: us-central1, accessTokenEnv: K }
  - { name: br, provider: bedrock, region: us-east-1, apiKeyEnv: K }
  - { name: co, provider: cohere, apiKeyEnv: K }
routes:
  - model: everywhere
    backends: [{ backend: oai }, { backend: compat }, { backend: azure }, { backend: claude }, { backend: gem }, { backend: vtx }, { backend: br }, { backend: co }]
`,
  { K: 'key' },
);

const BACKENDS = ['oai', 'compat', 'azure', 'claude', 'gem', 'vtx', 'br', 'co'];

const BASE = {
  model: 'everywhere',
  messages: [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this image?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"answer":42}' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'lookup',
        description: 'Look up',
        parameters: { type: 'object', properties: { q: { type: 'string' } } },
      },
    },
  ],
  tool_choice: 'auto',
  temperature: 0.5,
  max_tokens: 100,
  stop: ['END'],
  response_format: { type: 'json_object' },
  stream: true,
};

// Without JSON mode, every provider accepts the base request (Bedrock and Anthropic refuse JSON mode with tools).
const { response_format: _jsonMode, ...PLAIN } = BASE;
const BASES = [BASE, PLAIN];

const ODD_VALUES: unknown[] = [
  null,
  0,
  -1,
  Number.POSITIVE_INFINITY,
  3.5,
  '',
  'x',
  true,
  [],
  {},
  [1, 'a'],
  { a: 1 },
  'data:',
  '{"',
  2 ** 53,
];

/** One random structural change somewhere in the value: replace, delete or duplicate. */
function mutate(value: unknown, random: () => number, depth = 0): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  if (depth > 0 && random() < 0.3) return pick(ODD_VALUES);
  if (Array.isArray(value)) {
    if (value.length === 0 || random() < 0.2) return random() < 0.5 ? [] : [...value, pick(ODD_VALUES)];
    const i = Math.floor(random() * value.length);
    const copy = [...value];
    if (random() < 0.2) copy.splice(i, 1);
    else copy[i] = mutate(copy[i], random, depth + 1);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0) return { extra: pick(ODD_VALUES) };
    const key = pick(keys);
    if (random() < 0.2) delete copy[key];
    else copy[key] = mutate(copy[key], random, depth + 1);
    return copy;
  }
  return pick(ODD_VALUES);
}

test('2,000 mutated requests: every one is refused with a 4xx or routed and buildable by every provider; none becomes a 500', () => {
  const random = mulberry32(20261121);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    let candidate: unknown = BASES[i % BASES.length];
    const mutations = 1 + Math.floor(random() * 3);
    for (let m = 0; m < mutations; m++) candidate = mutate(candidate, random);
    const stage = new RouterStage(snapshot);
    assert.ok(!(stage.handle(requestHeaders(CHAT_HEADERS)) instanceof Promise));
    const response = stage.handle(requestBody(JSON.stringify(candidate)));
    assert.ok(!(response instanceof Promise));
    const status = response.immediate_response ? Number(response.immediate_response.status?.code) : 0;
    assert.ok(
      status === 0 || (status >= 400 && status < 500),
      `request ${i} got ${status}: ${JSON.stringify(candidate).slice(0, 300)}`,
    );
    if (status === 0) {
      // Routed: every backend of the route must then be able to build its attempt (a throw there is a 500).
      for (const backend of BACKENDS) {
        const upstream = new UpstreamStage(snapshot);
        upstream.handle(requestHeaders(CHAT_HEADERS, false, backend));
        assert.doesNotThrow(
          () => upstream.handle(requestBody(JSON.stringify(candidate))),
          `${backend}: ${JSON.stringify(candidate).slice(0, 300)}`,
        );
      }
    }
    const key = status === 0 ? 'routed' : String(status);
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  // Both kinds of outcome occur, so the mutations exercise validation and the providers' checks.
  assert.ok((outcomes.get('routed') ?? 0) > 0 && (outcomes.get('400') ?? 0) > 0, JSON.stringify([...outcomes]));
});
