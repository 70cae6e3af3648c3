import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../config/topology.js';
import { configFromYaml } from '../testing/config.js';
import { parseChatRequest } from '../unified/chat-request.js';
import { UnifiedError } from '../unified/errors.js';
import { applyParamPolicy } from './param-policy.js';
import { providerFor } from './registry.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: anthropic, provider: anthropic, apiKeyEnv: K }
  - { name: bedrock, provider: bedrock, region: us-east-1, apiKeyEnv: K }
  - { name: gemini, provider: gemini, apiKeyEnv: K }
  - { name: cohere, provider: cohere, apiKeyEnv: K }
`),
  { K: 'k' },
);
const chat = (fields: Record<string, unknown>) =>
  parseChatRequest(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...fields }));
const run = (
  name: string,
  fields: Record<string, unknown>,
  policy: 'reject' | 'drop',
  model = 'anthropic.claude-x',
) => {
  const backend = topology.backends.get(name)!;
  return applyParamPolicy(providerFor(backend.provider), chat(fields), backend, model, policy);
};

const DROPS: Array<{ backend: string; fields: Record<string, unknown>; dropped: string[]; model?: string }> = [
  {
    backend: 'anthropic',
    fields: { presence_penalty: 0.5, frequency_penalty: 0.2, logprobs: true, top_logprobs: 2, seed: 1 },
    dropped: ['presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs'],
  },
  {
    backend: 'bedrock',
    fields: { logit_bias: { '1': 2 }, presence_penalty: 1 },
    dropped: ['presence_penalty', 'logit_bias'],
  },
  { backend: 'bedrock', fields: { top_k: 5 }, model: 'meta.llama3-70b-instruct-v1:0', dropped: ['top_k'] },
  {
    backend: 'gemini',
    fields: { logit_bias: { '1': 2 }, reasoning_effort: 'low' },
    model: 'gemini-2.0-flash',
    dropped: ['logit_bias', 'reasoning_effort'],
  },
  {
    backend: 'cohere',
    fields: { logprobs: true, parallel_tool_calls: false },
    dropped: ['parallel_tool_calls', 'logprobs'],
  },
];

for (const c of DROPS) {
  test(`drop on ${c.backend}: ${c.dropped.join(', ')} left out, the rest kept`, () => {
    const outcome = run(c.backend, c.fields, 'drop', c.model);
    assert.deepEqual([...outcome.dropped].sort(), [...c.dropped].sort());
    for (const field of c.dropped) assert.equal(Object.hasOwn(outcome.request, field), false, field);
    // Under reject the same request is a 400 naming one of them.
    assert.throws(
      () => run(c.backend, c.fields, 'reject', c.model),
      (err: unknown) => err instanceof UnifiedError && err.status === 400 && c.dropped.includes(err.param ?? ''),
    );
  });
}

test('what cannot be dropped safely is refused even under drop', () => {
  for (const [backend, fields, param] of [
    ['anthropic', { n: 2 }, 'n'],
    ['bedrock', { n: 3, presence_penalty: 1 }, 'n'],
    ['anthropic', { modalities: ['text', 'audio'] }, 'modalities'],
    ['anthropic', { temperature: 1.5 }, 'temperature'],
  ] as const) {
    assert.throws(
      () => run(backend, fields, 'drop'),
      (err: unknown) => err instanceof UnifiedError && err.param === param,
      `${backend} ${param}`,
    );
  }
});

test('nothing to drop: the request is returned as is', () => {
  const outcome = run('anthropic', { temperature: 0.2 }, 'drop');
  assert.deepEqual(outcome.dropped, []);
  assert.equal(outcome.request.temperature, 0.2);
});
