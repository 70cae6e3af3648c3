import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_CACHED_CHARS, TextCountCache } from './text-cache.js';

const long = (seed: string) => seed.repeat(Math.ceil(MIN_CACHED_CHARS / seed.length) + 1);

function counter(result: number) {
  let calls = 0;
  return { count: () => (calls++, result), calls: () => calls };
}

test('a long text counted once is answered from the cache', () => {
  const cache = new TextCountCache();
  const c = counter(42);
  assert.deepEqual(cache.count('o200k_base', long('history '), c.count), 42);
  assert.deepEqual(cache.count('o200k_base', long('history '), c.count), 42);
  assert.equal(c.calls(), 1);
});

test('the encoding is part of the key; short texts are always counted', () => {
  const cache = new TextCountCache();
  const c = counter(1);
  cache.count('o200k_base', long('same '), c.count);
  cache.count('cl100k_base', long('same '), c.count);
  cache.count('o200k_base', 'short', c.count);
  cache.count('o200k_base', 'short', c.count);
  assert.equal(c.calls(), 4);
  assert.equal(cache.size, 2);
});

test('bounded: the least recently used entry leaves first', () => {
  const cache = new TextCountCache(2);
  const c = counter(1);
  cache.count('e', long('a '), c.count);
  cache.count('e', long('b '), c.count);
  cache.count('e', long('a '), c.count); // a is now the most recent
  cache.count('e', long('c '), c.count); // b leaves
  assert.equal(cache.size, 2);
  const before = c.calls();
  cache.count('e', long('a '), c.count);
  assert.equal(c.calls(), before);
  cache.count('e', long('b '), c.count);
  assert.equal(c.calls(), before + 1);
});
