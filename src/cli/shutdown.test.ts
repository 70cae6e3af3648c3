// SIGTERM on the real CLI: readiness drops, the open stream is given extproc.drainTimeoutMs, then the process exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import { healthCheck } from '../extproc/health-testing.js';
import { CHAT_HEADERS, requestHeaders } from '../extproc/testing.js';
import { loadServiceProtos } from '../protos/load.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

test('SIGTERM: health NOT_SERVING and /readyz 503 at once, an open stream gets the drain bound, then exit 0', async (t) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-sigterm-')), 'config.yaml');
  writeFileSync(
    file,
    'extproc: { address: 127.0.0.1:0, drainTimeoutMs: 1500, drainGraceMs: 0 }\nadmin: { address: 127.0.0.1:0 }\ndataPlane: { enabled: false }\n',
  );
  const child = spawn(process.execPath, [CLI, 'start', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const logs = createInterface({ input: child.stderr });
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no start log line')), 20_000);
    logs.on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'llm-extproc started') {
        clearTimeout(timer);
        resolve(entry);
      }
    });
  });
  const target = String(started.extproc);
  const readyz = async () => (await fetch(`http://${String(started.admin)}/readyz`)).status;
  const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
  const client = new Client(target, grpc.credentials.createInsecure());
  t.after(() => {
    client.close();
    child.kill('SIGKILL');
  });
  assert.equal(await healthCheck(target, ''), 'SERVING');
  assert.equal(await readyz(), 200);

  const stuck = client.Process();
  const status = new Promise<grpc.status>((resolve) => stuck.on('status', (s: grpc.StatusObject) => resolve(s.code)));
  stuck.on('error', () => undefined);
  const answered = new Promise((resolve) => stuck.once('data', resolve));
  stuck.write(requestHeaders(CHAT_HEADERS) as ProcessingRequest);
  await answered;

  const signalled = Date.now();
  child.kill('SIGTERM');
  let draining = 0;
  for (let i = 0; i < 50 && draining !== 503; i++) {
    draining = await readyz();
    if (draining !== 503) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(draining, 503);
  assert.notEqual(await healthCheck(target, ''), 'SERVING');

  assert.equal(await exited, 0);
  const took = Date.now() - signalled;
  assert.ok(took >= 1000 && took < 6000, `exited ${took} ms after SIGTERM (bound 1500 ms)`);
  assert.notEqual(await status, grpc.status.OK);
});
