// probeOnce against a local OpenAI-compatible server, through the real provider translation: right answers pass,
// wrong / empty / error / unreachable answers fail. Plus the health config's defaults and validation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { parseConfig } from '../config/load.js';
import { resolveTopology, type ResolvedBackend } from '../config/topology.js';
import { listenOnLoopback } from '../testing/http.js';
import { canary, probeOnce } from './probe.js';

let reply: (body: Record<string, unknown>) => { status: number; content: string };
let baseUrl = '';
let close: () => Promise<void>;
let seenAuth: string | undefined;

before(async () => {
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seenAuth = req.headers.authorization;
      const { status, content } = reply(JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown>);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        status === 200
          ? JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] })
          : JSON.stringify({ error: { message: 'down', type: 'server_error' } }),
      );
    });
  });
  const listening = await listenOnLoopback(server);
  baseUrl = `http://127.0.0.1:${listening.port}/v1`;
  close = listening.close;
});
after(() => close());

function backend(url = baseUrl): ResolvedBackend {
  const parsed = parseConfig(`
backends: [{ name: b, provider: openai-compatible, baseUrl: "${url}", apiKeyEnv: B_KEY }]
routes: [{ model: m, backends: [{ backend: b, model: upstream-m }] }]
`);
  if (!parsed.ok) throw new Error('config');
  const found = resolveTopology(parsed.config, { B_KEY: 'secret-key' }).backends.get('b');
  assert.ok(found);
  return found;
}

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
      assert.ok(results.every((r) => r.pass), JSON.stringify(results));
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
    assert.deepEqual(results.map((r) => [r.check, r.pass]), [['probe', false]]);
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
