import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { observeWholeBody } from './observe.js';
import { chatRequest, emptyAnswer, monitorFixture, noLatency } from './testing.js';

const good = observeWholeBody(
  JSON.stringify({
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there.' }, finish_reason: 'stop' }],
  }),
);

describe('health monitor', () => {
  test('empty answers degrade then take out a backend; clean probes bring it back; the control plane hears each change once', () => {
    const { monitor, published } = monitorFixture(
      '  - { model: m, backends: [{ backend: a }, { backend: b, weight: 3 }] }',
    );
    for (let i = 0; i < 3; i++) monitor.observeResponse('b', chatRequest, emptyAnswer, noLatency);
    assert.deepEqual(published, [['b', { weight: 3, health: 'DEGRADED' }]]);
    for (let i = 0; i < 4; i++) monitor.observeResponse('b', chatRequest, emptyAnswer, noLatency);
    assert.deepEqual(published.at(-1), ['b', { weight: 3, health: 'UNHEALTHY' }]);
    for (let i = 0; i < 3; i++) monitor.record('b', 'm', [{ check: 'probe', pass: true, detail: 'ok' }], 'probe');
    assert.deepEqual(published.at(-1), ['b', undefined]);
    assert.equal(published.length, 3);
    const view = monitor.view() as { backends: Record<string, { state: string; lastVerdicts: unknown[] }> };
    assert.equal(view.backends.b?.state, 'HEALTHY');
    assert.ok((view.backends.b?.lastVerdicts.length ?? 0) > 0);
    monitor.observeResponse('a', chatRequest, good, noLatency);
    assert.equal(published.length, 3, 'clean answers publish nothing');
  });

  test('the only backend of a route is held DEGRADED, never taken out', () => {
    const { monitor, published } = monitorFixture('  - { model: m, backends: [{ backend: a }] }');
    for (let i = 0; i < 10; i++) monitor.observeResponse('a', chatRequest, emptyAnswer, noLatency);
    assert.equal(monitor.state('a'), 'UNHEALTHY');
    assert.deepEqual(published.at(-1), ['a', { weight: 1, health: 'DEGRADED' }]);
    assert.ok(!published.some(([, s]) => s?.health === 'UNHEALTHY'));
  });

  test('without probes, an UNHEALTHY backend is let back in on probation after halfOpenAfterMs', () => {
    const clock = { now: 1_000 };
    const { monitor, published } = monitorFixture(
      '  - { model: m, backends: [{ backend: a }, { backend: b }] }',
      clock,
    );
    for (let i = 0; i < 7; i++) monitor.observeResponse('b', chatRequest, emptyAnswer, noLatency);
    assert.deepEqual(published.at(-1), ['b', { weight: 1, health: 'UNHEALTHY' }]);
    clock.now += 29_000;
    monitor.tick();
    assert.deepEqual(published.at(-1), ['b', { weight: 1, health: 'UNHEALTHY' }]);
    clock.now += 1_000;
    monitor.tick();
    assert.deepEqual(published.at(-1), ['b', undefined], 'half-open: published HEALTHY');
    monitor.observeResponse('b', chatRequest, emptyAnswer, noLatency);
    assert.deepEqual(
      published.at(-1),
      ['b', { weight: 1, health: 'UNHEALTHY' }],
      'one failure on probation takes it out',
    );
  });
});
