import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { configFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { backendsView, resolveTopology, usableEndpoints } from './topology.js';

const config = configFromYaml(TWO_BACKENDS_YAML);

test('a backend whose key variable is unset is disabled with the reason', () => {
  const topology = resolveTopology(config, {});
  assert.equal(topology.backends.get('primary')?.disabledReason, 'environment variable PRIMARY_KEY is not set');
  assert.equal(topology.backends.get('local')?.disabledReason, undefined);
});

test('an empty key variable counts as unset', () => {
  assert.ok(resolveTopology(config, { PRIMARY_KEY: '' }).backends.get('primary')?.disabledReason);
});

test('routes map the client model to each backend’s model and priority', () => {
  const route = resolveTopology(config, { PRIMARY_KEY: 'k' }).routes.get('gpt-4o-mini');
  assert.ok(route);
  assert.equal(route.cluster, 'llm.gpt-4o-mini');
  assert.deepEqual(
    route.endpoints.map((e) => [e.backend.name, e.upstreamModel, e.priority]),
    [
      ['primary', 'gpt-4o-mini', 0],
      ['local', 'llama-3-8b', 1],
    ],
  );
});

test('usable endpoints leave out disabled backends', () => {
  const topology = resolveTopology(config, {});
  assert.deepEqual(
    usableEndpoints(topology.routes.get('gpt-4o-mini')!).map((e) => e.backend.name),
    ['local'],
  );
  assert.deepEqual(usableEndpoints(topology.routes.get('keyed-only')!), []);
});

test('API keys never print: not in inspect, JSON or string form', () => {
  const topology = resolveTopology(config, { PRIMARY_KEY: 'sk-secret-value' });
  const backend = topology.backends.get('primary');
  assert.ok(backend?.apiKey);
  assert.equal(backend.apiKey.reveal(), 'sk-secret-value');
  for (const printed of [inspect(backend, { depth: 5 }), JSON.stringify(backend), String(backend.apiKey)]) {
    assert.ok(!printed.includes('sk-secret-value'), printed);
  }
});

test('backendsView (admin GET /backends): enabled or why not, routed models, no secrets, no URL query or userinfo', () => {
  const config = configFromYaml(`
backends:
  - { name: keyed, provider: openai-compatible, baseUrl: "https://user:pw@llm.example/v1?key=AIza-secret", apiKeyEnv: KEYED_KEY }
  - { name: unkeyed, provider: anthropic, apiKeyEnv: MISSING_KEY }
routes:
  - { model: m, backends: [{ backend: keyed }, { backend: unkeyed }] }
`);
  const view = backendsView(resolveTopology(config, { KEYED_KEY: 'sk-very-secret' }));
  assert.deepEqual(view.backends, [
    { name: 'keyed', provider: 'openai-compatible', baseUrl: 'https://llm.example/v1', enabled: true, models: ['m'] },
    {
      name: 'unkeyed',
      provider: 'anthropic',
      baseUrl: 'https://api.anthropic.com/v1',
      enabled: false,
      disabledReason: 'environment variable MISSING_KEY is not set',
      models: ['m'],
    },
  ]);
  assert.doesNotMatch(JSON.stringify(view), /secret|pw|AIza/);
});
