// Operator pins (drain, pin, restore) over the verdicts; verdicts and pins across config reloads; the published
// weight; the verdict summary for the access log.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import { ConfigStore } from '../config/store.js';
import { resolveTopology } from '../config/topology.js';
import { startHealth } from './index.js';
import { HealthMonitor, type PublishedState, type Verdict } from './monitor.js';
import { verdictSummary } from './tap.js';
import { chatRequest, emptyAnswer, monitorFixture, noLatency, TWO_BACKENDS } from './testing.js';

describe('operator pins', () => {
  test('drain publishes DRAINING at the config weight; verdicts do not move a pinned backend; restore goes back to the verdicts', () => {
    const { monitor, published } = monitorFixture(
      '  - { model: m, backends: [{ backend: a }, { backend: b, weight: 3 }] }',
    );
    assert.equal(monitor.pin('b', 'DRAINING', undefined, 'maintenance'), true);
    assert.deepEqual(published, [['b', { weight: 3, health: 'DRAINING' }]]);
    for (let i = 0; i < 10; i++) monitor.observeResponse('b', chatRequest, emptyAnswer, noLatency);
    assert.equal(monitor.state('b'), 'UNHEALTHY', 'verdicts are still judged while pinned');
    assert.equal(published.length, 1, 'but nothing else is published');
    const summary = monitor.summary().get('b');
    assert.deepEqual(summary?.published, { state: 'DRAINING', weight: 3 });
    assert.equal(summary?.pinned?.state, 'DRAINING');
    assert.equal(summary?.pinned?.reason, 'maintenance');
    // Among the last keepVerdicts (20) verdicts, 4 per response: the last 5 responses' empty failures.
    assert.deepEqual(summary?.recentFailures, { empty: 5 });
    assert.equal(monitor.restore('b'), true);
    assert.deepEqual(published.at(-1), ['b', { weight: 3, health: 'UNHEALTHY' }], 'restore: the verdicts decide again');
    assert.equal(monitor.summary().get('b')?.pinned, null);
  });

  test('a pin sets state and weight (HEALTHY at weight 9 overrides an UNHEALTHY verdict); restore to a healthy verdict publishes the default', () => {
    const { monitor, published } = monitorFixture('  - { model: m, backends: [{ backend: a }, { backend: b }] }');
    for (let i = 0; i < 7; i++) monitor.observeResponse('a', chatRequest, emptyAnswer, noLatency);
    assert.deepEqual(published.at(-1), ['a', { weight: 1, health: 'UNHEALTHY' }]);
    monitor.pin('a', 'HEALTHY', 9, undefined);
    assert.deepEqual(published.at(-1), ['a', { weight: 9, health: 'HEALTHY' }]);
    monitor.pin('b', 'HEALTHY', 1, undefined);
    assert.equal(published.filter(([name]) => name === 'b').length, 0, 'a pin equal to the default publishes nothing');
    monitor.restore('a');
    assert.deepEqual(published.at(-1), ['a', { weight: 1, health: 'UNHEALTHY' }]);
    for (let i = 0; i < 3; i++) monitor.record('a', 'm', [{ check: 'probe', pass: true, detail: 'ok' }], 'probe');
    assert.deepEqual(published.at(-1), ['a', undefined]);
  });

  test('a backend pinned out is never held by the panic rule: the route keeps its other backend, held DEGRADED if need be', () => {
    const { monitor, published } = monitorFixture('  - { model: m, backends: [{ backend: a }, { backend: b }] }');
    monitor.pin('b', 'DRAINING', undefined, undefined);
    for (let i = 0; i < 10; i++) monitor.observeResponse('a', chatRequest, emptyAnswer, noLatency);
    assert.deepEqual(published.at(-1), ['a', { weight: 1, health: 'DEGRADED' }], "a is the route's last backend: held");
    assert.ok(!published.some(([name, s]) => name === 'b' && s?.health !== 'DRAINING'));
  });

  test('unknown backends are refused; attach() replays pins to a control plane that starts later', () => {
    const parsed = parseConfig(
      `${TWO_BACKENDS}routes:\n  - { model: m, backends: [{ backend: a }, { backend: b }] }\n`,
    );
    if (!parsed.ok) throw new Error('config');
    const topology = resolveTopology(parsed.config, {});
    const monitor = new HealthMonitor({ config: () => parsed.config.health, topology: () => topology });
    assert.equal(monitor.pin('nope', 'DRAINING', undefined, undefined), false);
    assert.equal(monitor.restore('nope'), false);
    monitor.pin('a', 'DEGRADED', 2, undefined);
    const published: Array<[string, PublishedState]> = [];
    monitor.attach((backend, state) => published.push([backend, state]));
    assert.deepEqual(published, [['a', { weight: 2, health: 'DEGRADED' }]]);
  });
});

describe('verdicts across config reloads', () => {
  const write = (file: string, extra: string, routes: string) =>
    writeFileSync(file, `logging: { level: ${extra} }\n${TWO_BACKENDS}routes:\n${routes}\n`);

  test('a reload of unrelated parts keeps scores, states and pins; a reload that removes a backend drops its pin', async (t) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-health-reload-')), 'config.yaml');
    const both = '  - { model: m, backends: [{ backend: a }, { backend: b }] }';
    write(file, 'error', both);
    const parsed = parseConfig(`logging: { level: error }\n${TWO_BACKENDS}routes:\n${both}\n`);
    if (!parsed.ok) throw new Error('config');
    const store = new ConfigStore(file, parsed.config, {});
    const health = startHealth(store);
    const published: Array<[string, PublishedState]> = [];
    health.attach((backend, state) => published.push([backend, state]));
    t.after(async () => {
      await health.close();
      store.close();
    });
    for (let i = 0; i < 7; i++) health.monitor.observeResponse('b', chatRequest, emptyAnswer, noLatency);
    health.monitor.pin('a', 'HEALTHY', 5, 'canary');
    const before = health.monitor.summary();
    assert.equal(before.get('b')?.state, 'UNHEALTHY');

    // Unrelated change (log level, a new model on the same backends): nothing is lost, nothing re-published.
    write(file, 'warn', `${both}\n  - { model: other, backends: [{ backend: a }] }`);
    assert.equal(store.reload().ok, true);
    const after = health.monitor.summary();
    assert.equal(after.get('b')?.state, 'UNHEALTHY');
    assert.equal(after.get('b')?.score, before.get('b')?.score);
    assert.deepEqual(after.get('b')?.published, { state: 'UNHEALTHY', weight: 1 });
    assert.deepEqual(after.get('a')?.published, { state: 'HEALTHY', weight: 5 });
    const count = published.length;

    // The backend's config weight changes: the same verdict is re-published with the new weight.
    write(file, 'warn', '  - { model: m, backends: [{ backend: a }, { backend: b, weight: 4 }] }');
    assert.equal(store.reload().ok, true);
    assert.deepEqual(published.at(-1), ['b', { weight: 4, health: 'UNHEALTHY' }]);
    assert.equal(published.length, count + 1);

    // `a` leaves the config: its pin goes with it (a later config that brings it back starts unpinned).
    writeFileSync(
      file,
      `logging: { level: warn }\nbackends:\n  - { name: b, provider: openai-compatible, baseUrl: "http://127.0.0.1:2/v1" }\nroutes:\n  - { model: m, backends: [{ backend: b }] }\n`,
    );
    assert.equal(store.reload().ok, true);
    write(file, 'warn', both);
    assert.equal(store.reload().ok, true);
    assert.equal(health.monitor.summary().get('a')?.pinned, null);
    assert.equal(
      health.monitor.summary().get('b')?.state,
      'UNHEALTHY',
      'b stayed in every config: its verdicts survive',
    );
  });
});

describe('verdict summary (dynamic metadata health_verdict)', () => {
  const v = (check: Verdict['check'], pass: boolean): Verdict => ({
    backend: 'a',
    model: 'm',
    check,
    pass,
    detail: '',
    source: 'response',
    at: 0,
  });
  test('pass, or fail: with each failed check once', () => {
    assert.equal(verdictSummary([]), undefined);
    assert.equal(verdictSummary([v('empty', true), v('json', true)]), 'pass');
    assert.equal(
      verdictSummary([v('empty', false), v('json', true), v('empty', false), v('repetition', false)]),
      'fail:empty,repetition',
    );
  });
});
