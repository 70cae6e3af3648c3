import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { repoRoot } from '../util/repo-root.js';
import { resolveTopology } from './topology.js';
import { DEFAULT_CONFIG_PATH, formatProblems, loadConfigFile, parseConfig } from './load.js';

test('the embedded default config is valid and starts every listener on loopback', () => {
  const result = loadConfigFile(DEFAULT_CONFIG_PATH);
  assert.ok(result.ok, result.ok ? '' : formatProblems('default', result.problems));
  assert.equal(result.config.extproc.address, '127.0.0.1:50051');
  assert.equal(result.config.admin.address, '127.0.0.1:9090');
  assert.equal(result.config.dataPlane.address, '127.0.0.1:8080');
});

test('every service config we ship validates (the container image runs deploy/container-config.yaml)', () => {
  for (const file of [DEFAULT_CONFIG_PATH, path.join(repoRoot(), 'deploy/container-config.yaml')]) {
    const result = loadConfigFile(file);
    assert.ok(result.ok, result.ok ? '' : formatProblems(file, result.problems));
  }
});

test('an empty file is a valid config with defaults', () => {
  const result = parseConfig('');
  assert.ok(result.ok);
  assert.equal(result.config.limits.maxRequestBodyBytes, 1024 * 1024);
  assert.deepEqual(result.config.backends, []);
});

test('a bad field is reported with its path, line and column', () => {
  const result = parseConfig(
    ['backends:', '  - name: openai', '    provider: openai', '    baseUrl: not-a-url', ''].join('\n'),
  );
  assert.equal(result.ok, false);
  if (result.ok) return;
  const problem = result.problems.find((p) => p.path === 'backends[0].baseUrl');
  assert.ok(problem, JSON.stringify(result.problems));
  assert.equal(problem.line, 4);
  assert.equal(problem.column, 14);
  assert.match(formatProblems('svc.yaml', result.problems), /^svc\.yaml:4:14: backends\[0\]\.baseUrl: /m);
});

test('unknown keys are errors, so typos do not silently fall back to defaults', () => {
  const result = parseConfig('limits:\n  maxRequestBodyByte: 10\n');
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.problems[0]?.path, 'limits.maxRequestBodyByte');
  assert.match(result.problems[0]?.message ?? '', /maxRequestBodyByte.*did you mean `maxRequestBodyBytes`/);
  assert.equal(result.problems[0]?.line, 2);
  assert.equal(result.problems[0]?.column, 3);
});

test('a missing required field points at its parent object', () => {
  const result = parseConfig('backends:\n  - name: a\n    provider: openai-compatible\n');
  assert.equal(result.ok, false);
  if (result.ok) return;
  const problem = result.problems.find((p) => p.path === 'backends[0].baseUrl');
  assert.ok(problem);
  assert.equal(problem.line, 2);
});

test('routes must name defined backends, once each, and models must be unique', () => {
  const yaml = `
backends:
  - { name: a, provider: openai, baseUrl: "https://x.example/v1" }
routes:
  - model: m
    backends: [{ backend: a }, { backend: a }]
  - model: m
    backends: [{ backend: nope }]
`;
  const result = parseConfig(yaml);
  assert.equal(result.ok, false);
  if (result.ok) return;
  const messages = result.problems.map((p) => `${p.path}: ${p.message}`);
  assert.ok(messages.includes('routes[0].backends[1].backend: backend "a" listed twice'), messages.join('\n'));
  assert.ok(messages.includes('routes[1].model: duplicate route for model "m"'));
  assert.ok(messages.includes('routes[1].backends[0].backend: unknown backend "nope"'));
});

test('providers fill in their own base URL and key header', () => {
  const result = parseConfig('backends:\n  - { name: a, provider: openai, apiKeyEnv: K }\n');
  assert.ok(result.ok);
  const backend = resolveTopology(result.config, { K: 'x' }).backends.get('a');
  assert.equal(backend?.baseUrl.href, 'https://api.openai.com/v1');
  assert.equal(backend?.apiKeyHeader, 'authorization');
});

test('YAML syntax errors carry a line number', () => {
  const result = parseConfig('backends:\n  - name: [unclosed\n');
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.match(result.problems[0]?.message ?? '', /^YAML syntax/);
  assert.ok((result.problems[0]?.line ?? 0) >= 2);
});

test('an unreadable file is a problem, not an exception', () => {
  const result = loadConfigFile('/nonexistent/llm-extproc.yaml');
  assert.equal(result.ok, false);
});

describe('a misspelled key points at its own line and suggests the closest valid key', () => {
  const CASES = [
    {
      name: 'backend baseURL (and no follow-on "needs a baseUrl")',
      yaml: 'backends:\n  - name: local\n    provider: openai-compatible\n    baseURL: http://127.0.0.1:8000/v1\n',
      want: ['4:5 backends[0].baseURL: unknown key "baseURL" (did you mean `baseUrl`?)'],
    },
    {
      name: 'route entry modle',
      yaml: 'backends:\n  - { name: a, provider: openai }\nroutes:\n  - model: m\n    backends:\n      - backend: a\n        modle: x\n',
      want: ['7:9 routes[0].backends[0].modle: unknown key "modle" (did you mean `model`?)'],
    },
    {
      name: 'a provider-specific key, from the option the provider selects',
      yaml: 'backends:\n  - name: c\n    provider: anthropic\n    anthropicVersoin: "2023-06-01"\n',
      want: ['4:5 backends[0].anthropicVersoin: unknown key "anthropicVersoin" (did you mean `anthropicVersion`?)'],
    },
    { name: 'top level', yaml: 'rotues: []\n', want: ['1:1 rotues: unknown key "rotues" (did you mean `routes`?)'] },
    {
      name: 'nothing close: no suggestion',
      yaml: 'logging:\n  colour: true\n',
      want: ['2:3 logging.colour: unknown key "colour"'],
    },
  ];
  for (const c of CASES) {
    test(c.name, () => {
      const result = parseConfig(c.yaml);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.deepEqual(
        result.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`),
        c.want,
      );
    });
  }
});
