import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodingsForModels,
  loadedEncodingFor,
  tokenizerForModel,
  type EstimateFamily,
  type ExactEncoding,
} from './encodings.js';

function exact(model: string): ExactEncoding | undefined {
  const choice = tokenizerForModel(model);
  return choice.kind === 'exact' ? choice.encoding : undefined;
}

function family(model: string): EstimateFamily | undefined {
  const choice = tokenizerForModel(model);
  return choice.kind === 'estimate' ? choice.family : undefined;
}

test('o200k_base: gpt-4o, gpt-4.1, gpt-4.5, gpt-5, chatgpt-4o, o1, o3, o4-mini, with dated snapshots', () => {
  for (const model of [
    'gpt-4o',
    'gpt-4o-2024-05-13',
    'gpt-4o-2024-08-06',
    'gpt-4o-2024-11-20',
    'gpt-4o-mini',
    'gpt-4o-mini-2024-07-18',
    'gpt-4o-audio-preview',
    'gpt-4.1',
    'gpt-4.1-2025-04-14',
    'gpt-4.1-mini',
    'gpt-4.1-nano-2025-04-14',
    'gpt-4.5-preview',
    'gpt-4.5-preview-2025-02-27',
    'gpt-4.5',
    'gpt-5',
    'gpt-5-mini',
    'gpt-5-2025-08-07',
    'gpt-5.1',
    'gpt-5-chat-latest',
    'chatgpt-4o-latest',
    'o1',
    'o1-mini',
    'o1-2024-12-17',
    'o1-pro',
    'o3',
    'o3-mini',
    'o3-2025-04-16',
    'o4-mini',
    'o4-mini-2025-04-16',
    'ft:gpt-4o-mini-2024-07-18:org::abc123',
  ]) {
    assert.equal(exact(model), 'o200k_base', model);
  }
});

test('cl100k_base: gpt-4, gpt-4-turbo, gpt-3.5-turbo, Azure gpt-35-turbo, embeddings, davinci-002', () => {
  for (const model of [
    'gpt-4',
    'gpt-4-0613',
    'gpt-4-32k',
    'gpt-4-turbo',
    'gpt-4-turbo-2024-04-09',
    'gpt-4-1106-preview',
    'gpt-3.5-turbo',
    'gpt-3.5-turbo-0125',
    'gpt-3.5-turbo-0301',
    'gpt-3.5-turbo-16k',
    'gpt-3.5',
    'gpt-35-turbo',
    'gpt-35-turbo-16k',
    'text-embedding-3-small',
    'text-embedding-3-large',
    'text-embedding-ada-002',
    'davinci-002',
    'babbage-002',
    'ft:gpt-3.5-turbo-0125:org::x',
    'ft:gpt-4-0613:org::x',
  ]) {
    assert.equal(exact(model), 'cl100k_base', model);
  }
});

test('o200k_harmony: gpt-oss, counted with the o200k_base encoder', () => {
  for (const model of ['gpt-oss-20b', 'gpt-oss-120b', 'gpt-oss', 'openai/gpt-oss-120b', 'openai.gpt-oss-20b-1:0']) {
    assert.equal(exact(model), 'o200k_harmony', model);
  }
  assert.equal(loadedEncodingFor('o200k_harmony'), 'o200k_base');
  assert.equal(loadedEncodingFor('cl100k_base'), 'cl100k_base');
});

test('vendor prefixes for OpenAI models are stripped; lookalikes are not OpenAI models', () => {
  assert.equal(exact('openai/gpt-4o'), 'o200k_base');
  assert.equal(exact('azure/gpt-4'), 'cl100k_base');
  assert.equal(exact('gpt-4o '), 'o200k_base');
  // tiktoken's rules are prefix rules on the exact spelling: these are unknown models, estimated.
  assert.equal(family('GPT-4O'), 'unknown');
  assert.equal(family('gpt-6'), 'unknown');
  assert.equal(family('my-azure-deployment'), 'unknown');
  assert.equal(family('o5'), 'unknown');
});

test('models without a public tokenizer are estimates, by family', () => {
  const cases: ReadonlyArray<readonly [string, EstimateFamily]> = [
    ['claude-sonnet-4-5', 'anthropic'],
    ['claude-3-5-haiku-20241022', 'anthropic'],
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic'],
    ['us.anthropic.claude-sonnet-4-20250514-v1:0', 'anthropic'],
    ['claude-opus-4@20250514', 'anthropic'],
    ['gemini-2.5-flash', 'google'],
    ['models/gemini-2.0-pro', 'google'],
    ['gemma-3-27b-it', 'google'],
    ['mistral-large-latest', 'mistral'],
    ['mistral.mistral-large-2402-v1:0', 'mistral'],
    ['codestral-2501', 'mistral'],
    ['open-mixtral-8x22b', 'mistral'],
    ['meta.llama3-70b-instruct-v1:0', 'meta'],
    ['meta-llama/Llama-3.3-70B-Instruct', 'meta'],
    ['command-r-plus', 'cohere'],
    ['cohere.command-r-v1:0', 'cohere'],
    ['amazon.nova-pro-v1:0', 'amazon'],
    ['deepseek-chat', 'deepseek'],
    ['Qwen/Qwen2.5-72B-Instruct', 'qwen'],
    ['grok-4', 'xai'],
    ['text-davinci-003', 'openai-legacy'],
    ['code-davinci-002', 'openai-legacy'],
    ['davinci', 'openai-legacy'],
  ];
  for (const [model, expected] of cases) {
    const choice = tokenizerForModel(model);
    assert.equal(choice.kind, 'estimate', model);
    assert.equal(family(model), expected, model);
    if (choice.kind === 'estimate') assert.equal(choice.baseEncoding, 'o200k_base');
  }
});

test('the encoders a set of models needs: each exact model its own, o200k_base for every estimate', () => {
  assert.deepEqual(encodingsForModels(['llama-3.1-8b-instruct', 'claude-sonnet-4-5']), ['o200k_base']);
  assert.deepEqual(encodingsForModels(['gpt-4o-mini', 'gpt-oss-120b']), ['o200k_base']);
  assert.deepEqual(encodingsForModels(['gpt-4-turbo']), ['cl100k_base']);
  assert.deepEqual(encodingsForModels(['gpt-3.5-turbo', 'gemini-2.5-pro']), ['cl100k_base', 'o200k_base']);
  assert.deepEqual(encodingsForModels([]), []);
});
