import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { INITIAL_SCORE, observe, type ScoreState } from './score.js';
import { publishedStates, type RouteView } from './aggregate.js';
import { EMPTY_BASELINE, judgeLatency, type LatencyBaselines } from './baseline.js';
import { canary, nextDelay } from './probe.js';
import { promptOf } from './testing.js';

const settings = { halfLife: 5, degradedAbove: 0.3, unhealthyAbove: 0.6, recoverAfter: 3 };
const run = (xs: number[], from: ScoreState = INITIAL_SCORE) => xs.reduce((s, x) => observe(s, x, settings), from);

describe('failure score and hysteresis', () => {
  test('3 consecutive failures degrade, 7 take out', () => {
    assert.equal(run([1, 1]).state, 'HEALTHY');
    assert.equal(run([1, 1, 1]).state, 'DEGRADED');
    assert.equal(run([1, 1, 1, 1, 1, 1]).state, 'DEGRADED');
    assert.equal(run([1, 1, 1, 1, 1, 1, 1]).state, 'UNHEALTHY');
  });
  test('occasional failures among clean traffic never degrade', () => {
    const xs = Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    assert.equal(run(xs).state, 'HEALTHY');
  });
  test('recovery needs recoverAfter consecutive clean observations, and caps the score', () => {
    const down = run([1, 1, 1, 1, 1, 1, 1, 1]);
    assert.equal(run([0, 0], down).state, 'UNHEALTHY');
    assert.equal(run([0, 0, 1, 0, 0], down).state, 'UNHEALTHY', 'a failure resets the streak');
    const up = run([0, 0, 0], down);
    assert.equal(up.state, 'HEALTHY');
    assert.ok(up.score <= 0.15);
    assert.equal(run([1], up).state, 'HEALTHY', 'one new failure does not flip it back');
  });
  test('latency-only failures (0.5) degrade but cannot take a backend out alone', () => {
    const s = run(Array.from({ length: 50 }, () => 0.5));
    assert.equal(s.state, 'DEGRADED');
  });
});

describe('panic rule', () => {
  const route = (eps: Array<[string, number]>): RouteView => ({
    model: 'm',
    endpoints: eps.map(([backend, priority]) => ({ backend, priority, enabled: true })),
  });
  test('one of two priority-0 backends can be taken out', () => {
    const out = publishedStates(
      new Map([
        ['a', { state: 'UNHEALTHY' as const, score: 0.9 }],
        ['b', { state: 'HEALTHY' as const, score: 0 }],
      ]),
      [
        route([
          ['a', 0],
          ['b', 0],
        ]),
      ],
    );
    assert.deepEqual(out.get('a'), { health: 'UNHEALTHY', held: false });
  });
  test('the last one is held (DEGRADED) when there is no failover', () => {
    const out = publishedStates(
      new Map([
        ['a', { state: 'UNHEALTHY' as const, score: 0.9 }],
        ['b', { state: 'UNHEALTHY' as const, score: 0.7 }],
      ]),
      [
        route([
          ['a', 0],
          ['b', 0],
        ]),
      ],
    );
    assert.deepEqual(out.get('b'), { health: 'DEGRADED', held: true });
    assert.deepEqual(out.get('a'), { health: 'UNHEALTHY', held: false });
  });
  test('priority 0 may be emptied when priority 1 is healthy', () => {
    const out = publishedStates(new Map([['a', { state: 'UNHEALTHY' as const, score: 0.9 }]]), [
      route([
        ['a', 0],
        ['f', 1],
      ]),
    ]);
    assert.deepEqual(out.get('a'), { health: 'UNHEALTHY', held: false });
  });
});

describe('latency baseline', () => {
  test('no verdict while warming up, then a sudden 10× TTFT is an outlier and normal jitter is not', () => {
    let b: LatencyBaselines = { ttft: EMPTY_BASELINE, tps: EMPTY_BASELINE };
    const s = { warmup: 20, halfLife: 50, zThreshold: 4 };
    for (let i = 0; i < 20; i++) {
      const o = judgeLatency(b, { ttftMs: 200 + (i % 5) * 20, tokensPerSecond: 50 + (i % 3) }, s);
      assert.equal(o.pass, undefined);
      b = o.next;
    }
    assert.equal(judgeLatency(b, { ttftMs: 260, tokensPerSecond: 49 }, s).pass, true);
    assert.equal(judgeLatency(b, { ttftMs: 2500, tokensPerSecond: 50 }, s).pass, false);
    assert.equal(judgeLatency(b, { ttftMs: 220, tokensPerSecond: 5 }, s).pass, false);
  });
});

describe('probes (pure parts)', () => {
  test('canaries verify their answers', () => {
    const arithmetic = canary(0, 'm', 16, 0.5);
    const sum = /What is (\d+) \+ (\d+)/.exec(promptOf(arithmetic.request));
    assert.ok(sum);
    assert.equal(arithmetic.expect(String(Number(sum[1]) + Number(sum[2]))), undefined);
    assert.notEqual(arithmetic.expect('7'), undefined);
    const echo = canary(1, 'm', 16, 0.5);
    const word = /: (\w+)$/.exec(promptOf(echo.request))?.[1] ?? '';
    assert.equal(echo.expect(word.toUpperCase() + '.'), undefined);
    assert.notEqual(echo.expect(''), undefined);
    const json = canary(2, 'm', 16, 0.5);
    assert.equal(json.request.response_format?.type, 'json_object');
    assert.equal(json.expect('{"name":"x","count":1}'), undefined);
    assert.notEqual(json.expect('{"name":"x"}'), undefined);
  });
  test('jitter stays within interval × (1 ± jitter)', () => {
    assert.equal(nextDelay(1000, 0.2, 0), 800);
    assert.equal(nextDelay(1000, 0.2, 0.5), 1000);
    assert.ok(nextDelay(1000, 0.2, 0.999) <= 1200);
  });
});

describe('half-open (no probes)', () => {
  test('an UNHEALTHY backend on trial goes out again at the first failure, and recovers after clean ones without a DEGRADED step', async () => {
    const { halfOpen } = await import('./score.js');
    const down = run([1, 1, 1, 1, 1, 1, 1, 1]);
    const trial = halfOpen(down, settings);
    assert.equal(trial.state, 'HEALTHY');
    assert.equal(trial.probation, true);
    assert.equal(run([1], trial).state, 'UNHEALTHY');
    const after1 = run([0], trial);
    assert.equal(after1.state, 'HEALTHY', 'no DEGRADED step on probation');
    const back = run([0, 0, 0], trial);
    assert.equal(back.probation, false);
    assert.ok(back.score <= 0.15);
    assert.equal(halfOpen(INITIAL_SCORE, settings), INITIAL_SCORE);
  });
});
