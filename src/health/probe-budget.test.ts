// Probes and budgets (memory store): a probe is reserved on health.probes.budgetSubject and settled with the
// provider's usage like a request; a refused reservation skips the probe; a backend that costs money is not probed
// unless probes.paidBackends, and a backend not probed gets half-open trials instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { resolveTopology } from '../config/topology.js';
import { Budgets } from '../budget/budgets.js';
import type { Accounting } from '../extproc/budget-gate.js';
import { PromptEstimator } from '../tokens/estimator.js';
import { HealthMonitor } from './monitor.js';
import { costsMoney, startProber } from './probe.js';
import { observeWholeBody } from './observe.js';
import { completion, startCompletionUpstream } from './testing.js';

let baseUrl = '';
let close: () => Promise<void>;
let probes = 0;

before(async () => {
  const upstream = await startCompletionUpstream((body) => {
    probes++;
    const text = (body as { messages: Array<{ content: string }> }).messages[0]?.content ?? '';
    const sum = /What is (\d+) \+ (\d+)/.exec(text);
    const word = /: (\w+)$/.exec(text);
    const content = sum ? String(Number(sum[1]) + Number(sum[2])) : word ? (word[1] ?? '') : '{"name":"n","count":2}';
    return {
      status: 200,
      body: completion({ role: 'assistant', content }, 'stop', {
        usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 },
      }),
    };
  });
  baseUrl = upstream.baseUrl;
  close = upstream.close;
});
after(() => close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function setup(probesYaml: string, budgetsYaml: string) {
  const parsed = parseConfig(`
health: { probes: { enabled: true, intervalMs: 100, jitter: 0, timeoutMs: 2000, ${probesYaml} } }
backends: [{ name: b, provider: openai-compatible, baseUrl: "${baseUrl}" }]
routes: [{ model: m, backends: [{ backend: b }] }]
budgets:
  store: { kind: memory }
  ${budgetsYaml}
  organisations:
    - name: acme
      teams:
        - { name: ops, limits: [{ window: day, requests: 2 }] }
`);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const config = parsed.config;
  const topology = resolveTopology(config, {});
  const budgetsConfig = config.budgets;
  assert.ok(budgetsConfig);
  const budgets = Budgets.create(budgetsConfig, {}, { reapIntervalMs: 0 });
  const accounting: Accounting = { budgets, config: budgetsConfig, estimator: new PromptEstimator() };
  let covers: (b: string) => boolean = () => false;
  const clock = { now: 1_000_000 };
  const monitor = new HealthMonitor({
    config: () => config.health,
    topology: () => topology,
    probed: (b) => covers(b),
    now: () => clock.now,
  });
  const backend = topology.backends.get('b');
  assert.ok(backend);
  const prober = startProber({
    monitor,
    config: () => config.health,
    backends: () => [{ backend, model: 'm', upstreamModel: 'm' }],
    accounting: () => accounting,
    random: () => 0.5,
  });
  covers = (b) => prober.covers(b);
  return {
    monitor,
    prober,
    budgets,
    clock,
    stop: async () => {
      prober.close();
      await budgets.close();
    },
  };
}

const empty = observeWholeBody(
  JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'stop' }] }),
);

describe('probes and budgets', () => {
  test('costsMoney: a price above 0 for the model or "*"', () => {
    const prices = (p: string) => {
      const parsed = parseConfig(`budgets: { prices: ${p} }`);
      assert.ok(parsed.ok && parsed.config.budgets);
      return parsed.config.budgets;
    };
    assert.equal(costsMoney(prices('{}'), 'm'), false);
    assert.equal(costsMoney(prices('{ m: { input: 0, output: 0 } }'), 'm'), false);
    assert.equal(costsMoney(prices('{ m: { input: 0.5, output: 1 } }'), 'm'), true);
    assert.equal(costsMoney(prices('{ "*": { input: 0.5, output: 1 } }'), 'other'), true);
  });

  test('each probe reserves on budgetSubject and settles the provider usage; a refused reservation skips the probe', async (t) => {
    const { budgets, prober, stop } = setup('budgetSubject: acme/ops', '');
    const before = probes;
    t.after(() => stop());
    await sleep(700);
    assert.equal(probes - before, 2, 'the day limit (2 requests) allows two probes');
    const views = await budgets.snapshot();
    const ops = views.find((v) => v.subject === 'acme/ops' && v.metric === 'requests');
    assert.equal(ops?.used, 2);
    assert.equal(ops?.reserved, 0, 'settled, nothing left reserved');
    assert.equal(prober.covers('b'), false, 'refused: probes do not cover the backend any more (half-open applies)');
  });

  test('a paid backend is not probed without paidBackends and gets half-open trials; with paidBackends it is probed and charged', async (t) => {
    const paid = 'prices: { m: { input: 1, output: 2 } }';
    const off = setup('budgetSubject: acme/ops', paid);
    const before = probes;
    try {
      for (let i = 0; i < 7; i++)
        off.monitor.observeResponse('b', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, empty, {
          ttftMs: undefined,
          tokensPerSecond: undefined,
        });
      await sleep(300);
      assert.equal(probes, before, 'no probe sent');
      assert.equal(off.prober.covers('b'), false);
      assert.equal(off.monitor.state('b'), 'UNHEALTHY');
      off.clock.now += 30_000;
      off.monitor.tick();
      assert.equal(off.monitor.summary().get('b')?.published.state, 'HEALTHY', 'half-open trial');
    } finally {
      await off.stop();
    }
    const on = setup('budgetSubject: acme/ops, paidBackends: true', paid);
    t.after(() => on.stop());
    await sleep(300);
    assert.ok(probes > before);
    const cost = (await on.budgets.snapshot()).find((v) => v.subject === 'acme/ops' && v.metric === 'requests');
    assert.ok((cost?.used ?? 0) >= 1);
    assert.equal(on.prober.covers('b'), true);
  });
});
