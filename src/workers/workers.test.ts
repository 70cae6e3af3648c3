// ext_proc served by two cluster workers (src/workers/): one budget ledger for both, a dead worker replaced, a
// drain that covers every worker, and /metrics summing them. The clients below each open their own connection
// (a local subchannel pool), which the cluster hands to the workers in turn, as it does Envoy's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ProcessStream, type ExchangeResult } from '../dataplane/extproc-client.js';
import type { ExternalProcessorClient } from '../generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { ProcessingRequest } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import { STAGE_METADATA_KEY } from '../extproc/contract.js';
import { CHAT_HEADERS, requestBody, requestHeaders } from '../extproc/testing.js';
import { loadServiceProtos } from '../protos/load.js';
import { startService, type RunningService } from '../service.js';
import { configFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';

const LIMIT = 12;
const SOCKET = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-workers-sock-')), 'extproc.sock');
const YAML = `
extproc: { address: 127.0.0.1:0, unixSocket: ${SOCKET}, workers: 2, drainTimeoutMs: 5000, drainGraceMs: 0 }
admin: { address: 127.0.0.1:0 }
dataPlane: { enabled: false }
logging: { level: error }
${TWO_BACKENDS_YAML}
budgets:
  organisations:
    - name: acme
      teams:
        - name: t
          keys: [{ name: k, sha256: "${createHash('sha256').update('vk').digest('hex')}", limits: [{ window: day, requests: ${LIMIT} }] }]
`;
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });

/** A client with its own connection: grpc-js would otherwise share one subchannel between clients of a target. */
function client(port: number | string): ExternalProcessorClient {
  const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
  return new Client(typeof port === 'number' ? `127.0.0.1:${port}` : port, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

const asRequest = (message: unknown) => message as ProcessingRequest;

/** The router stage's answer to a budgeted chat request: its stream is left open (the reservation with it). */
async function ask(c: ExternalProcessorClient): Promise<{ stream: ProcessStream; answer: ExchangeResult }> {
  const stream = new ProcessStream(c, [{ key: STAGE_METADATA_KEY, value: 'router' }]);
  const headers = await stream.exchange(
    asRequest(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' })),
    10_000,
  );
  assert.equal(headers.kind, 'response', `headers: ${JSON.stringify(headers)}`);
  return { stream, answer: await stream.exchange(asRequest(requestBody(CHAT)), 10_000) };
}

/** 'routed', or the immediate response's HTTP status (over the wire the enum arrives by name, e.g. TooManyRequests). */
function statusOf(answer: ExchangeResult): string {
  assert.equal(answer.kind, 'response', JSON.stringify(answer));
  if (answer.kind !== 'response') return 'none';
  const code = answer.response.immediate_response?.status?.code;
  return code === undefined ? 'routed' : String(code);
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function start(): Promise<RunningService> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-workers-')), 'config.yaml');
  writeFileSync(file, YAML);
  return startService({ configFile: file, config: configFromYaml(YAML), env: { PRIMARY_KEY: 'sk-test' } });
}

describe('two ext_proc workers', () => {
  let service: RunningService;
  const clients: ExternalProcessorClient[] = [];
  before(async () => {
    service = await start();
    for (let i = 0; i < 8; i++) clients.push(client(service.extprocPort));
  });
  after(async () => {
    for (const c of clients) c.close();
    await service?.close();
  });

  test('two worker processes serve the one ext_proc port', () => {
    assert.equal(service.workers, 2);
    assert.equal(service.workerPids().length, 2);
    assert.ok(!service.workerPids().includes(process.pid));
  });

  test('concurrent reservations from both workers against one limit grant exactly the limit, never more', async () => {
    const results = await Promise.all(Array.from({ length: LIMIT * 3 }, (_, i) => ask(clients[i % clients.length]!)));
    const statuses = results.map((r) => statusOf(r.answer));
    assert.equal(statuses.filter((s) => s === 'routed').length, LIMIT, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 'TooManyRequests').length, LIMIT * 2, `statuses: ${statuses.join(',')}`);
    const budgets = (await (await fetch(`http://127.0.0.1:${service.adminPort}/budgets`)).json()) as {
      budgets: Array<{ metric: string; reserved: number; used: number }>;
    };
    assert.equal(
      budgets.budgets.find((b) => b.metric === 'requests')?.reserved,
      LIMIT,
      'the primary ledger holds every open reservation',
    );
    // Clients that leave release their reservations (in the primary's ledger, through the workers).
    for (const r of results) r.stream.close('abrupt');
    await waitFor('reservations released', async () => {
      const view = (await (await fetch(`http://127.0.0.1:${service.adminPort}/budgets`)).json()) as {
        budgets: Array<{ metric: string; reserved: number }>;
      };
      return view.budgets.find((b) => b.metric === 'requests')?.reserved === 0;
    });
  });

  test('the Unix socket is shared too: the primary binds it once, every worker serves it', async () => {
    const viaSocket = [client(`unix:${SOCKET}`), client(`unix:${SOCKET}`)];
    try {
      for (const c of viaSocket) {
        const { stream, answer } = await ask(c);
        assert.equal(statusOf(answer), 'TooManyRequests', 'the same ledger as the TCP port');
        stream.close();
      }
    } finally {
      for (const c of viaSocket) c.close();
    }
  });

  test('/metrics sums the workers: every router stream counted once, though the primary serves none', async () => {
    const text = await (await fetch(`http://127.0.0.1:${service.adminPort}/metrics`)).text();
    const count = Number(/^llm_extproc_stream_processing_seconds_count\{stage="router"\} (\d+)$/m.exec(text)?.[1]);
    assert.equal(count, LIMIT * 3 + 2);
    assert.match(text, /^llm_extproc_config_generation 1$/m, 'a gauge every process reports the same is not summed');
  });

  test('a worker that dies is replaced and ext_proc keeps answering', async () => {
    const [victim] = service.workerPids();
    assert.ok(victim);
    process.kill(victim, 'SIGKILL');
    await waitFor(
      'a replacement worker',
      () => service.workerPids().length === 2 && !service.workerPids().includes(victim),
    );
    // Every connection works again (those on the dead worker reconnect to a live one).
    for (const c of clients) {
      const { stream, answer } = await ask(c);
      assert.equal(statusOf(answer), 'TooManyRequests', 'the budget survives the crash: it lives in the primary');
      stream.close();
    }
  });
});

describe('draining two ext_proc workers', () => {
  test('SIGTERM semantics reach every worker: open streams finish, new ones are refused, all workers exit', async () => {
    const service = await start();
    const clients = Array.from({ length: 4 }, () => client(service.extprocPort));
    try {
      // One open stream per connection, mid-request (headers answered, body not yet sent).
      const open = clients.map((c) => new ProcessStream(c, [{ key: STAGE_METADATA_KEY, value: 'router' }]));
      for (const stream of open)
        assert.equal(
          (await stream.exchange(asRequest(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' })), 10_000))
            .kind,
          'response',
        );
      const drained = service.drain(0);
      // New streams are refused once the drain starts (GOAWAY or UNAVAILABLE, never an answer).
      await waitFor('new streams refused', async () => {
        const probe = new ProcessStream(clients[0]!, [{ key: STAGE_METADATA_KEY, value: 'router' }]);
        const result = await probe.exchange(asRequest(requestHeaders(CHAT_HEADERS)), 2000);
        probe.close('abrupt');
        return result.kind !== 'response';
      });
      // The open streams still get their answers.
      for (const stream of open) {
        assert.equal(statusOf(await stream.exchange(asRequest(requestBody(CHAT)), 10_000)), 'routed');
        stream.close();
      }
      await drained;
      assert.deepEqual(service.workerPids(), [], 'every worker exited');
    } finally {
      for (const c of clients) c.close();
      await service.close();
    }
  });
});
