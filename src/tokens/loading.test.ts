// Loading encoders: only the ones asked for (each costs tens of MB of RSS), none before the first request to load, and
// an encoding nobody asked for loads on first use once counting is on. A test file runs in its own process, so the
// order of these tests is the order of a service's life.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodersLoaded, loadedEncodings, loadEncoders, tokenizerFor, TokenizerNotReadyError } from './backend.js';

test('before any load is asked for, counting throws TokenizerNotReadyError (callers estimate instead)', () => {
  assert.equal(encodersLoaded(), false);
  assert.throws(() => tokenizerFor('o200k_base'), TokenizerNotReadyError);
});

test('loadEncoders loads only the encodings it is given, once, however often it is called', async () => {
  await Promise.all([loadEncoders(['o200k_base']), loadEncoders(['o200k_base'])]);
  assert.equal(encodersLoaded(), true);
  assert.deepEqual(loadedEncodings(), ['o200k_base']);
  const tokenizer = tokenizerFor('o200k_base');
  await loadEncoders(['o200k_base']);
  assert.equal(tokenizerFor('o200k_base'), tokenizer);
});

test('an encoding not asked for loads synchronously on first use, and counts exactly', () => {
  const cl100k = tokenizerFor('cl100k_base');
  assert.deepEqual(loadedEncodings().sort(), ['cl100k_base', 'o200k_base']);
  // tiktoken: "<|endoftext|>" is 7 ordinary tokens in both encodings (a self-check of every load).
  assert.equal(cl100k.count('<|endoftext|>'), 7);
});
