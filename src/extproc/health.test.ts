import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigStore } from '../config/store.js';
import { configFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { HEALTH_SERVICE_NAMES } from './health.js';
import { healthCheck, HealthWatch } from './health-testing.js';
import { startExtProcServer } from './server.js';

const store = new ConfigStore('unused.yaml', configFromYaml(TWO_BACKENDS_YAML), { PRIMARY_KEY: 'k' });
const EXT_PROC = 'envoy.service.ext_proc.v3.ExternalProcessor';

test('Check answers NOT_SERVING until told otherwise, on TCP and the Unix socket; unknown services are NOT_FOUND', async (t) => {
  const socket = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-health-')), 'extproc.sock');
  const server = await startExtProcServer(store, '127.0.0.1:0', socket);
  const targets = [`127.0.0.1:${server.port}`, `unix:${socket}`];
  t.after(() => server.close());
  assert.deepEqual(HEALTH_SERVICE_NAMES, ['', EXT_PROC]);
  for (const target of targets) {
    for (const name of HEALTH_SERVICE_NAMES)
      assert.equal(await healthCheck(target, name), 'NOT_SERVING', `${target} '${name}'`);
    assert.equal(await healthCheck(target, 'some.other.Service'), grpc.status.NOT_FOUND);
  }
  server.health.setServing(true);
  for (const target of targets) {
    for (const name of HEALTH_SERVICE_NAMES)
      assert.equal(await healthCheck(target, name), 'SERVING', `${target} '${name}'`);
  }
});

test('Watch hears each change once: NOT_SERVING → SERVING → NOT_SERVING on drain, then its stream ends', async (t) => {
  const server = await startExtProcServer(store, '127.0.0.1:0');
  const target = `127.0.0.1:${server.port}`;
  const whole = new HealthWatch(target, '');
  const extproc = new HealthWatch(target, EXT_PROC);
  t.after(async () => {
    whole.close();
    extproc.close();
    await server.close();
  });
  assert.deepEqual(await whole.heard(1), ['NOT_SERVING']);
  server.health.setServing(true);
  server.health.setServing(true); // no change: nothing pushed
  assert.deepEqual(await whole.heard(2), ['NOT_SERVING', 'SERVING']);
  assert.deepEqual(await extproc.heard(2), ['NOT_SERVING', 'SERVING']);

  const started = Date.now();
  const outcome = await server.drain(5000);
  // Open Watch streams must not hold the drain until its bound.
  assert.deepEqual(outcome, { forced: false, cutStreams: 0 });
  assert.ok(Date.now() - started < 2000, `drain took ${Date.now() - started} ms`);
  assert.deepEqual(whole.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  assert.deepEqual(extproc.statuses, ['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  assert.equal(await whole.ended, grpc.status.UNAVAILABLE);
  assert.equal(server.health.status, 'NOT_SERVING');
  server.health.setServing(true); // a late readiness change cannot revive a drained server
  assert.equal(server.health.status, 'NOT_SERVING');
});
