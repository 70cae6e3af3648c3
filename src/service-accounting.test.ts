// The encoders budgets need follow the configured models: only those load (each costs tens of MB), before budgets
// go live, with readiness reporting the load; a reload that adds a model of another encoding loads that one too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountingHolder, encodingsForConfig } from './service-accounting.js';
import { configFromYaml } from './testing/config.js';
import { loadedEncodings } from './tokens/counter.js';

function config(models: readonly string[]) {
  return configFromYaml(`
backends:
  - name: up
    provider: openai-compatible
    baseUrl: http://127.0.0.1:9/v1
routes:
${models.map((m) => `  - model: client-${m}\n    backends:\n      - backend: up\n        model: ${m}`).join('\n')}
budgets:
  store: { kind: memory }
  organisations:
    - name: org
      teams:
        - name: team
          keys:
            - { name: k, sha256: "${'0'.repeat(64)}", limits: [{ window: month, requests: 10 }] }
`);
}

test('the encodings of a config are those of the models its routes send to backends', () => {
  assert.deepEqual(encodingsForConfig(config(['llama-3.1-8b-instruct'])), ['o200k_base']);
  assert.deepEqual(encodingsForConfig(config(['gpt-4o', 'claude-sonnet-4-5'])), ['o200k_base']);
  assert.deepEqual(encodingsForConfig(config(['gpt-4o', 'gpt-4-turbo'])), ['cl100k_base', 'o200k_base']);
});

test('budgets load only the needed encoder, readiness waits for it, and a reload adds another', async () => {
  const holder = new AccountingHolder();
  const first = config(['llama-3.1-8b-instruct']);
  const applying = holder.apply(first.budgets, encodingsForConfig(first));
  assert.deepEqual(holder.notReadyReasons(), ['tokenizer loading']);
  await applying;
  assert.deepEqual(holder.notReadyReasons(), []);
  assert.ok(holder.current());
  assert.deepEqual(loadedEncodings(), ['o200k_base']);

  const budgets = holder.current()?.budgets;
  const second = config(['llama-3.1-8b-instruct', 'gpt-4-turbo']);
  await holder.apply(second.budgets, encodingsForConfig(second));
  assert.deepEqual(loadedEncodings().sort(), ['cl100k_base', 'o200k_base']);
  assert.equal(holder.current()?.budgets, budgets, 'the same budgets section keeps its Budgets (and counters)');
  assert.deepEqual(holder.notReadyReasons(), []);
  await holder.close();
});
