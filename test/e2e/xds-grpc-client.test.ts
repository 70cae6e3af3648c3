// The control plane with a second, independent xDS client: @grpc/grpc-js-xds (state of the world only). Its
// channel resolves `xds:///llm.m` through our LDS → CDS → EDS, balances by locality weight (it ignores endpoint
// weights under round robin) and keeps only HEALTHY/UNKNOWN endpoints — so each backend's locality weight and
// health must be right for its traffic to be right. (Its xDS client keeps a connection open after the channel is
// closed, so `npm test` runs with --test-force-exit: a finished test file must not wait for it.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { formatProblems, parseConfig } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import { startControlPlane, type ControlPlane } from '../../src/xds/control-plane.js';

/** A one-method service with raw bytes on the wire: enough to see which server a call reached. */
const ECHO: grpc.ServiceDefinition = {
  Echo: {
    path: '/llmextproc.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

interface EchoServer {
  readonly port: number;
  calls: number;
  close(): Promise<void>;
}

async function startEchoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const state = { calls: 0 };
  server.addService(ECHO, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      state.calls++;
      callback(null, Buffer.from(name));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    get calls() {
      return state.calls;
    },
    set calls(v: number) {
      state.calls = v;
    },
    // Cut the client's connections too: the xDS channel's subchannels would otherwise keep the process alive.
    close: async () => server.forceShutdown(),
  };
}

let alpha: EchoServer;
let beta: EchoServer;
let controlPlane: ControlPlane;
let client: grpc.Client & { Echo: (req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void };

before(async () => {
  grpcXds.register();
  alpha = await startEchoServer('alpha');
  beta = await startEchoServer('beta');
  const yaml = `
backends:
  - { name: alpha, provider: openai-compatible, baseUrl: "http://127.0.0.1:${alpha.port}/v1" }
  - { name: beta, provider: openai-compatible, baseUrl: "http://127.0.0.1:${beta.port}/v1" }
routes:
  - { model: m, backends: [{ backend: alpha }, { backend: beta }] }
`;
  const parsed = parseConfig(yaml);
  if (!parsed.ok) throw new Error(formatProblems('config', parsed.problems));
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-grpc-xds-')), 'config.yaml');
  writeFileSync(file, yaml);
  controlPlane = await startControlPlane(new ConfigStore(file, parsed.config, {}), '127.0.0.1:0', {
    grpcListeners: true,
  });
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  const bootstrap = {
    xds_servers: [
      {
        server_uri: `127.0.0.1:${controlPlane.port}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: { id: 'grpc-js-xds-test', locality: {} },
  };
  client = new Client('xds:///llm.m', grpc.credentials.createInsecure(), {
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
  }) as unknown as typeof client;
});

after(async () => {
  client?.close();
  await controlPlane?.close();
  await alpha?.close();
  await beta?.close();
});

const call = () =>
  new Promise<string>((resolve, reject) =>
    client.Echo(Buffer.from('hi'), (err, res) => (err ? reject(err) : resolve(res?.toString() ?? ''))),
  );

async function spread(n: number): Promise<{ alpha: number; beta: number }> {
  const [a0, b0] = [alpha.calls, beta.calls];
  for (let i = 0; i < n; i++) await call();
  return { alpha: alpha.calls - a0, beta: beta.calls - b0 };
}

/** Calls until the split satisfies `ok` (the client applies an update a moment after the server sends it). */
async function eventually(
  ok: (s: { alpha: number; beta: number }) => boolean,
  what: string,
): Promise<{ alpha: number; beta: number }> {
  let last = { alpha: 0, beta: 0 };
  for (let round = 0; round < 20; round++) {
    last = await spread(50);
    if (ok(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what}: last split ${JSON.stringify(last)}`);
}

test('grpc-js-xds resolves the model through LDS, CDS and EDS and reaches both backends', async () => {
  await eventually((s) => s.alpha > 0 && s.beta > 0, 'both backends reached');
});

test('an UNHEALTHY backend gets no calls; locality weights 1:9 send most calls to the heavier backend', async () => {
  controlPlane.setBackendState('alpha', { weight: 1, health: 'UNHEALTHY' });
  await eventually((s) => s.alpha === 0 && s.beta === 50, 'alpha taken out');
  controlPlane.setBackendState('alpha', { weight: 1, health: 'HEALTHY' });
  controlPlane.setBackendState('beta', { weight: 9, health: 'HEALTHY' });
  const split = await eventually((s) => s.alpha > 0 && s.beta >= s.alpha * 3, 'weights 1:9');
  assert.ok(split.beta > split.alpha, JSON.stringify(split));
});
