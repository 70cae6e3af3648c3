import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ConfigStore } from '../config/store.js';
import type { ProcessingResponse__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { loadServiceProtos } from '../protos/load.js';
import { configFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { STAGE_METADATA_KEY } from './contract.js';
import { startExtProcServer } from './server.js';
import { CHAT_HEADERS, requestBody, requestHeaders } from './testing.js';

const store = new ConfigStore('unused.yaml', configFromYaml(TWO_BACKENDS_YAML), { PRIMARY_KEY: 'k' });

/** Sends messages on one Process stream, then half-closes; resolves with responses and the final status. */
function exchange(target: string, stage: string | undefined, messages: object[]) {
  const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
  const client = new Client(target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (stage) metadata.set(STAGE_METADATA_KEY, stage);
  const call = client.Process(metadata);
  const responses: ProcessingResponse__Output[] = [];
  return new Promise<{ responses: ProcessingResponse__Output[]; code: grpc.status }>((resolve) => {
    call.on('data', (r: ProcessingResponse__Output) => responses.push(r));
    call.on('status', (s: grpc.StatusObject) => {
      client.close();
      resolve({ responses, code: s.code });
    });
    call.on('error', () => undefined); // the status event carries the outcome
    for (const m of messages) call.write(m);
    call.end();
  });
}

test('one response per message, in order, on a real gRPC stream; no stage metadata means router', async (t) => {
  const server = await startExtProcServer(store, '127.0.0.1:0');
  t.after(() => server.close());
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
  const { responses, code } = await exchange(`127.0.0.1:${server.port}`, undefined, [
    requestHeaders(CHAT_HEADERS),
    requestBody(body),
  ]);
  assert.equal(code, grpc.status.OK);
  assert.deepEqual(
    responses.map((r) => r.response),
    ['request_headers', 'request_body'],
  );
});

test('a broken stream fails alone: the server keeps serving the next one', async (t) => {
  const server = await startExtProcServer(store, '127.0.0.1:0');
  t.after(() => server.close());
  const target = `127.0.0.1:${server.port}`;
  // An upstream-stage stream without endpoint metadata cannot be served: it ends with an error status.
  const broken = await exchange(target, 'upstream', [requestHeaders(CHAT_HEADERS)]);
  assert.equal(broken.code, grpc.status.INTERNAL);
  // A message with no request set at all is a protocol error, not a crash.
  const empty = await exchange(target, 'router', [{}]);
  assert.equal(empty.code, grpc.status.INTERNAL);
  const ok = await exchange(target, 'router', [requestHeaders(CHAT_HEADERS)]);
  assert.equal(ok.code, grpc.status.OK);
  assert.equal(ok.responses.length, 1);
});

test('the server also listens on a Unix socket when configured', async (t) => {
  const socket = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-uds-')), 'extproc.sock');
  const server = await startExtProcServer(store, '127.0.0.1:0', socket);
  t.after(() => server.close());
  const { responses, code } = await exchange(`unix:${socket}`, 'router', [requestHeaders(CHAT_HEADERS)]);
  assert.equal(code, grpc.status.OK);
  assert.equal(responses[0]?.response, 'request_headers');
});
