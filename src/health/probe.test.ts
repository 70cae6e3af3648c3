// probeOnce against a local OpenAI-compatible server, through the real provider translation: right answers pass,
// wrong / empty / error / unreachable answers fail. Plus the health config's defaults and validation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import type { ResolvedBackend } from '../config/topology.js';
import { completion, probedBackend, startCompletionUpstream } from './testing.js';
import { canary, probeOnce } from './probe.js';

let reply: (body: Record<string, unknown>) => { status: number; content: string };
let baseUrl = '';
let close: () => Promise<void>;
let seenAuth: string | undefined;

before(async () => {
  const upstream = await startCompletionUpstream((body, headers) => {
    seenAuth = headers.authorization;
    const { status, content } = reply(body);
    return {
      status,
      body:
        status === 200
          ? completion({ role: 'assistant', content })
          : { error: { message: 'down', type: 'server_error' } },
    };
  });
  baseUrl = upstream.baseUrl;
  close = upstream.close;
});
after(() => close());

const backend = (url = baseUrl): ResolvedBackend => probedBackend(url);

const solve = (body: Record<string, unknown>): string => {
  const text = String((body.messages as Array<{ content: string }>)[0]?.content);
  const sum = /What is (\d+) \+ (\d+)/.exec(text);
  if (sum) return String(Number(sum[1]) + Number(sum[2]));
  const word = /: (\w+)$/.exec(text);
  if (word) return word[1] ?? '';
  return '{"name":"n","count":2}';
};

describe('probeOnce', () => {
  for (const seq of [0, 1, 2]) {
    test(`canary ${seq}: a right answer passes, with the backend's credentials and upstream model`, async () => {
      let model: unknown;
      reply = (body) => {
        model = body.model;
        return { status: 200, content: solve(body) };
      };
      const results = await probeOnce(backend(), 'upstream-m', canary(seq, 'm', 16, 0.3), 2000);
      assert.ok(
        results.every((r) => r.pass),
        JSON.stringify(results),
      );
      assert.equal(model, 'upstream-m');
      assert.equal(seenAuth, 'Bearer secret-key');
    });
  }
  const failures: Array<[string, () => { status: number; content: string }]> = [
    ['a wrong answer', () => ({ status: 200, content: '12345' })],
    ['an empty answer', () => ({ status: 200, content: '' })],
    ['an HTTP 500', () => ({ status: 500, content: '' })],
  ];
  for (const [name, answer] of failures) {
    test(`${name} fails the probe`, async () => {
      reply = answer;
      const results = await probeOnce(backend(), 'upstream-m', canary(0, 'm', 16, 0.3), 2000);
      assert.equal(results.find((r) => r.check === 'probe')?.pass, false, JSON.stringify(results));
    });
  }
  test('an unreachable backend fails the probe', async () => {
    const results = await probeOnce(backend('http://127.0.0.1:1/v1'), 'upstream-m', canary(1, 'm', 16, 0.3), 1000);
    assert.deepEqual(
      results.map((r) => [r.check, r.pass]),
      [['probe', false]],
    );
  });
});

describe('health config', () => {
  test('defaults: every check on, probes off', () => {
    const parsed = parseConfig('backends: []');
    assert.ok(parsed.ok);
    assert.equal(parsed.config.health.enabled, true);
    assert.equal(parsed.config.health.probes.enabled, false);
    assert.equal(parsed.config.health.score.halfLife, 5);
  });
  test('unknown keys and inverted thresholds are rejected', () => {
    assert.equal(parseConfig('health: { checks: { bogus: true } }').ok, false);
    assert.equal(parseConfig('health: { score: { degradedAbove: 0.7, unhealthyAbove: 0.5 } }').ok, false);
    assert.equal(parseConfig('health: { routes: { m: { checks: { repetition: false } } } }').ok, true);
  });
});
