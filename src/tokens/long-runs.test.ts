import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LONG_RUN_CHARS, splitLongRuns } from './long-runs.js';

test('ordinary text is not split', () => {
  for (const text of [
    '',
    'The quick brown fox jumps over the lazy dog. '.repeat(200),
    'const x = 1;\n    return x;\n'.repeat(100),
    '1234567890'.repeat(500), // digits never form long pieces
    '漢字と、ひらがな。'.repeat(100), // CJK separated by punctuation: tier 1 suspects it, tier 2 clears it
    `${'a'.repeat(LONG_RUN_CHARS - 1)} ${'b'.repeat(LONG_RUN_CHARS - 1)}`,
  ]) {
    assert.equal(splitLongRuns(text), undefined, text.slice(0, 40));
  }
});

test('a long run is cut into chunks; everything else is kept, in order', () => {
  const text = `head ${'x'.repeat(LONG_RUN_CHARS * 2 + 5)} tail`;
  const segments = splitLongRuns(text);
  assert.ok(segments);
  assert.equal(segments.join(''), text);
  assert.deepEqual(
    segments.map((s) => s.length),
    [5, LONG_RUN_CHARS, LONG_RUN_CHARS, 5, 5],
  );
  assert.ok(segments.every((s) => s.length <= LONG_RUN_CHARS));
});

test('runs of whitespace, punctuation, non-Latin letters and emoji are found', () => {
  for (const run of [' ', '\n', '=', '-', 'ก', '字', '😀']) {
    const text = `a${run.repeat(LONG_RUN_CHARS)}b`;
    const segments = splitLongRuns(text);
    assert.ok(segments, JSON.stringify(run));
    assert.equal(segments.join(''), text);
  }
});

test('cuts never separate a surrogate pair', () => {
  const text = '😀'.repeat(LONG_RUN_CHARS * 3);
  const segments = splitLongRuns(text);
  assert.ok(segments);
  assert.equal(segments.join(''), text);
  for (const segment of segments) {
    assert.ok(!/^[\uDC00-\uDFFF]/.test(segment) && !/[\uD800-\uDBFF]$/.test(segment), 'segment boundary inside a pair');
  }
});

test('scanning is linear: 4 MB of near-limit words and of one run take well under a second', () => {
  const words = `${'a'.repeat(LONG_RUN_CHARS - 1)} `.repeat(Math.ceil(4_000_000 / LONG_RUN_CHARS));
  let started = performance.now();
  assert.equal(splitLongRuns(words), undefined);
  assert.ok(performance.now() - started < 1000);
  started = performance.now();
  assert.equal(splitLongRuns('z'.repeat(4_000_000))?.length, Math.ceil(4_000_000 / LONG_RUN_CHARS));
  assert.ok(performance.now() - started < 1000);
});
