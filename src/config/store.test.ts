import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigStore } from './store.js';
import { configFromYaml } from '../testing/config.js';

const GOOD = 'routes: []\nlimits:\n  maxRequestBodyBytes: 100\n';

function storeWith(text: string): ConfigStore {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-')), 'config.yaml');
  writeFileSync(file, text);
  return new ConfigStore(file, configFromYaml(text), {});
}

test('a valid reload swaps config and topology and bumps the generation', () => {
  const store = storeWith(GOOD);
  writeFileSync(store.file, GOOD.replace('100', '200'));
  const outcome = store.reload();
  assert.deepEqual(outcome, { ok: true, generation: 2 });
  assert.equal(store.current().config.limits.maxRequestBodyBytes, 200);
});

test('an invalid reload keeps the running config and says why', () => {
  const store = storeWith(GOOD);
  writeFileSync(store.file, 'limits:\n  maxRequestBodyBytes: -5\n');
  const outcome = store.reload();
  assert.equal(outcome.ok, false);
  assert.match(outcome.ok ? '' : outcome.error, /config\.yaml:2:\d+: limits\.maxRequestBodyBytes/);
  assert.equal(store.current().config.limits.maxRequestBodyBytes, 100);
  assert.equal(store.current().generation, 1);
});

test('SIGHUP reloads the file', async (t) => {
  const store = storeWith(GOOD);
  store.watch();
  t.after(() => store.close());
  writeFileSync(store.file, GOOD.replace('100', '300'));
  const reloaded = new Promise((resolve) => store.once('reload', resolve));
  process.kill(process.pid, 'SIGHUP');
  await reloaded;
  assert.equal(store.current().config.limits.maxRequestBodyBytes, 300);
});

test('editing the file reloads it without a signal', async (t) => {
  const store = storeWith(GOOD);
  store.watch();
  t.after(() => store.close());
  const reloaded = new Promise((resolve) => store.once('reload', resolve));
  writeFileSync(store.file, GOOD.replace('100', '400'));
  await reloaded;
  assert.equal(store.current().config.limits.maxRequestBodyBytes, 400);
});

test('a reload to an empty file is rejected and the running routes stay', () => {
  const withRoute =
    'backends:\n  - { name: b, provider: openai }\nroutes:\n  - { model: m, backends: [{ backend: b }] }\n';
  const store = storeWith(withRoute);
  for (const text of ['', '\n  \n', '# nothing here\n']) {
    writeFileSync(store.file, text);
    const outcome = store.reload();
    assert.equal(outcome.ok, false, JSON.stringify(text));
    assert.match(outcome.ok ? '' : outcome.error, /config\.yaml: the file is empty/);
    assert.deepEqual([...store.current().topology.routes.keys()], ['m']);
    assert.equal(store.current().generation, 1);
  }
});

test('a reload that drops every route is rejected while the running config has routes', () => {
  const withRoute =
    'backends:\n  - { name: b, provider: openai }\nroutes:\n  - { model: m, backends: [{ backend: b }] }\n';
  const store = storeWith(withRoute);
  writeFileSync(store.file, 'backends:\n  - { name: b, provider: openai }\nroutes: []\n');
  const outcome = store.reload();
  assert.equal(outcome.ok, false);
  assert.match(outcome.ok ? '' : outcome.error, /routes: the new config has no routes/);
  assert.deepEqual([...store.current().topology.routes.keys()], ['m']);
  // A config that already runs without routes may be reloaded into another one.
  const empty = storeWith(GOOD);
  writeFileSync(empty.file, 'routes: []\n');
  assert.equal(empty.reload().ok, true);
});

test('adopt() takes a config another process validated, with that process’s generation, and announces it', () => {
  const store = storeWith(GOOD);
  const outcomes: unknown[] = [];
  store.on('reload', (outcome) => outcomes.push(outcome));
  const outcome = store.adopt(configFromYaml(GOOD.replace('100', '300')), 7);
  assert.deepEqual(outcome, { ok: true, generation: 7 });
  assert.equal(store.current().config.limits.maxRequestBodyBytes, 300);
  assert.equal(store.current().generation, 7);
  assert.deepEqual(outcomes, [{ ok: true, generation: 7 }]);
});
