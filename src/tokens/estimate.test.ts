import { test } from 'node:test';
import assert from 'node:assert/strict';
import { correctionFor, DEFAULT_CORRECTION_OPTIONS, estimateTokens, INITIAL_CORRECTIONS, observe } from './estimate.js';

test('the prior is neutral: factor 1, no samples, no error yet', () => {
  assert.deepEqual(correctionFor(INITIAL_CORRECTIONS, 'anthropic'), { factor: 1, samples: 0, lastRelativeError: null });
  assert.equal(estimateTokens(INITIAL_CORRECTIONS, 'anthropic', 1000), 1000);
});

test('the first observation sets the factor; later ones move it by an EWMA', () => {
  const one = observe(INITIAL_CORRECTIONS, 'anthropic', 1000, 1200);
  assert.equal(correctionFor(one, 'anthropic').factor, 1.2);
  assert.equal(correctionFor(one, 'anthropic').samples, 1);
  assert.equal(correctionFor(one, 'anthropic').lastRelativeError, (1000 - 1200) / 1200);
  assert.equal(estimateTokens(one, 'anthropic', 500), 600);

  const two = observe(one, 'anthropic', 1000, 1000); // mean of 1.2 and 1.0 (α_2 = 1/2)
  assert.ok(Math.abs(correctionFor(two, 'anthropic').factor - 1.1) < 1e-12);
  assert.ok(Math.abs((correctionFor(two, 'anthropic').lastRelativeError ?? NaN) - 0.2) < 1e-12);

  let state = two;
  for (let i = 0; i < 200; i++) state = observe(state, 'anthropic', 1000, 1300);
  assert.ok(Math.abs(correctionFor(state, 'anthropic').factor - 1.3) < 1e-6, 'converges to a steady ratio');
  assert.ok(Math.abs(correctionFor(state, 'anthropic').lastRelativeError ?? NaN) < 1e-6);
});

test('families are independent and the input state is not modified', () => {
  const before = observe(INITIAL_CORRECTIONS, 'google', 1000, 900);
  const after = observe(before, 'anthropic', 1000, 1500);
  assert.equal(correctionFor(before, 'anthropic').factor, 1);
  assert.equal(correctionFor(after, 'google').factor, 0.9);
  assert.equal(correctionFor(after, 'anthropic').factor, 1.5);
  assert.deepEqual(INITIAL_CORRECTIONS, {});
});

test('ratios and the factor stay within [0.5, 2]', () => {
  const high = observe(INITIAL_CORRECTIONS, 'meta', 1000, 50_000);
  assert.equal(correctionFor(high, 'meta').factor, DEFAULT_CORRECTION_OPTIONS.maxFactor);
  const low = observe(INITIAL_CORRECTIONS, 'meta', 1000, 1);
  assert.equal(correctionFor(low, 'meta').factor, DEFAULT_CORRECTION_OPTIONS.minFactor);
  let state = high;
  for (let i = 0; i < 100; i++) {
    state = observe(state, 'meta', 1000, 10);
    assert.ok(correctionFor(state, 'meta').factor >= 0.5);
  }
  assert.ok(correctionFor(state, 'meta').factor < 0.501);
});

test('tiny, zero, negative and non-finite observations are ignored', () => {
  const state = observe(INITIAL_CORRECTIONS, 'cohere', 1000, 1100);
  assert.equal(observe(state, 'cohere', 10, 40), state); // below minBaseTokens
  assert.equal(observe(state, 'cohere', 1000, 0), state);
  assert.equal(observe(state, 'cohere', -5, 100), state);
  assert.equal(observe(state, 'cohere', Number.NaN, 100), state);
  assert.equal(observe(state, 'cohere', 1000, Number.POSITIVE_INFINITY), state);
});

test('options are honoured', () => {
  const options = { alpha: 0.5, minFactor: 0.8, maxFactor: 1.25, minBaseTokens: 1 };
  const state = observe(INITIAL_CORRECTIONS, 'qwen', 2, 10, options);
  assert.equal(correctionFor(state, 'qwen').factor, 1.25);
});
