// The service's readiness as probes see it (gRPC health on the ext_proc listener, /readyz) through a budgets
// reload and a graceful drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest } from './generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import { healthCheck, HealthWatch } from './extproc/health-testing.js';
import { CHAT_HEADERS, requestHeaders } from './extproc/testing.js';
import { loadServiceProtos } from './protos/load.js';
import { startService } from './service.js';
import { configFromYaml } from './testing/config.js';

const yaml = (budgets: boolean) => `
extproc: { address: 127.0.0.1:0, drainTimeoutMs: 300, drainGraceMs: 200 }
admin: { address: 127.0.0.1:0 }
dataPlane: { enabled: false }
logging: { level: error }
${budgets ? 'budgets: { store: { kind: memory } }' : ''}
`;

test('health follows readiness: SERVING, NOT_SERVING while a reload loads the tokenizer, NOT_SERVING and /readyz 503 on drain', async (t) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-shutdown-')), 'config.yaml');
  writeFileSync(file, yaml(false));
  const service = await startService({ configFile: file, config: configFromYaml(yaml(false)), env: {} });
  const target = `127.0.0.1:${service.extprocPort}`;
  const readyz = async () => (await fetch(`http://127.0.0.1:${service.adminPort}/readyz`)).status;
  const watch = new HealthWatch(target, '');
  const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
  const client = new Client(target, grpc.credentials.createInsecure());
  t.after(async () => {
    watch.close();
    client.close();
    await service.close();
  });
  assert.deepEqual(await watch.heard(1), ['SERVING']);
  assert.equal(await healthCheck(target, 'envoy.service.ext_proc.v3.ExternalProcessor'), 'SERVING');
  assert.equal(await readyz(), 200);

  // Budgets appear: not ready until their tokenizer has loaded.
  writeFileSync(file, yaml(true));
  assert.equal(service.store.reload().ok, true);
  assert.deepEqual(await watch.heard(3), ['SERVING', 'NOT_SERVING', 'SERVING']);
  assert.equal(await readyz(), 200);

  // A stream that never finishes: the drain waits for it up to extproc.drainTimeoutMs.
  const stuck = client.Process();
  stuck.on('error', () => undefined);
  const answered = new Promise((resolve) => stuck.once('data', resolve));
  stuck.write(requestHeaders(CHAT_HEADERS) as ProcessingRequest);
  await answered;

  const started = Date.now();
  const drained = service.drain();
  assert.deepEqual(await watch.heard(4), ['SERVING', 'NOT_SERVING', 'SERVING', 'NOT_SERVING']);
  assert.equal(await readyz(), 503, 'admin answers 503 for the whole drain');
  assert.notEqual(await healthCheck(target, ''), 'SERVING');
  // During the grace period (drainGraceMs) a new stream is still served: a health checker has not noticed yet.
  const late = client.Process();
  late.on('error', () => undefined);
  const lateAnswer = new Promise((resolve) => late.once('data', resolve));
  late.write(requestHeaders(CHAT_HEADERS) as ProcessingRequest);
  await lateAnswer;
  late.end();
  await drained;
  const took = Date.now() - started;
  assert.ok(took >= 450 && took < 3000, `drain took ${took} ms (grace 200 ms + bound 300 ms)`);
  await assert.rejects(readyz(), 'admin is closed once the drain is over');
});
