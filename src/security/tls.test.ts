// Transport security of the service's ports, with a throwaway PKI made by the openssl CLI (src/security/testing.ts):
// the ext_proc port with extproc.tls serves nothing without a verified, allowed client certificate (plaintext,
// no certificate, another CA, an identity not in allowedClients: all refused, Process and health alike), the
// config refuses non-loopback listeners without protection, and the admin port protects /budgets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { parseConfig } from '../config/load.js';
import { startService, type RunningService } from '../service.js';
import { externalProcessorService } from '../protos/load.js';
import { certificateIdentities, isLoopbackHost, tokenMatches } from './tls.js';
import { makeTestPki, type TestCert, type TestPki } from './testing.js';

const ENVOY_ID = 'spiffe://llm.test/ns/gateway/sa/envoy';
const OTHER_ID = 'spiffe://llm.test/ns/apps/sa/chatbot';

function config(yaml: string) {
  const result = parseConfig(yaml);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

type Outcome = { ok: true; status: string } | { ok: false; code: grpc.status; details: string };

function credentials(pki: TestPki, client?: TestCert, ca = pki.caFile): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    readFileSync(ca),
    client ? readFileSync(client.keyFile) : null,
    client ? readFileSync(client.certFile) : null,
  );
}

const healthCheckMethod = healthService['Check'];

function healthCheck(target: string, creds: grpc.ChannelCredentials): Promise<Outcome> {
  if (!healthCheckMethod) throw new Error('no Check');
  const method = healthCheckMethod;
  const client = new grpc.Client(target, creds);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { service: '' },
      { deadline: Date.now() + 3000 },
      (err, response) => {
        client.close();
        if (err) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, status: String((response as { status?: string } | undefined)?.status) });
      },
    );
  });
}

/** Opens a Process stream (router stage), sends a request's headers and reports how many answers came back and how it ended. */
function processStream(
  target: string,
  creds: grpc.ChannelCredentials,
): Promise<{ messages: number; code: grpc.status }> {
  const definition = externalProcessorService();
  const process = definition['Process'];
  if (!process) throw new Error('no Process');
  const client = new grpc.Client(target, creds);
  const metadata = new grpc.Metadata();
  metadata.set('x-llm-extproc-stage', 'router');
  const call = client.makeBidiStreamRequest(
    process.path,
    process.requestSerialize,
    process.responseDeserialize,
    metadata,
    { deadline: Date.now() + 3000 },
  );
  let messages = 0;
  call.on('data', () => {
    messages++;
    call.end();
  });
  call.on('error', () => undefined);
  const headers = { ':method': 'GET', ':path': '/v1/models', 'x-request-id': 'tls-test' };
  call.write({
    request_headers: {
      headers: { headers: Object.entries(headers).map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) },
      end_of_stream: true,
    },
  });
  return new Promise((resolve) =>
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      resolve({ messages, code: status.code });
    }),
  );
}

describe('ext_proc with extproc.tls: mutual TLS and the client allowlist', () => {
  let pki: TestPki;
  let service: RunningService;
  let target: string;
  before(async () => {
    pki = makeTestPki({ clients: { envoy: `URI:${ENVOY_ID}`, chatbot: `URI:${OTHER_ID}` } });
    const yaml = `extproc:
  address: 127.0.0.1:0
  tls: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile}, clientCaFile: ${pki.caFile}, allowedClients: ["${ENVOY_ID}"] }
admin: { address: 127.0.0.1:0 }
dataPlane: { enabled: false }
logging: { level: error }
`;
    service = await startService({ configFile: '/dev/null', config: config(yaml), env: {} });
    target = `127.0.0.1:${service.extprocPort}`;
  });
  after(async () => {
    await service?.close();
    pki?.remove();
  });

  test('an allowed client certificate is served (health and Process)', async () => {
    const creds = credentials(pki, pki.clients['envoy']);
    assert.deepEqual(await healthCheck(target, creds), { ok: true, status: 'SERVING' });
    const stream = await processStream(target, creds);
    assert.equal(stream.messages, 1, `the router stage answered (status ${stream.code})`);
  });

  test('plaintext is refused', async () => {
    const outcome = await healthCheck(target, grpc.credentials.createInsecure());
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.code, grpc.status.UNAVAILABLE);
    assert.equal((await processStream(target, grpc.credentials.createInsecure())).messages, 0);
  });

  test('TLS without a client certificate is refused', async () => {
    const outcome = await healthCheck(target, credentials(pki));
    assert.equal(outcome.ok, false);
    assert.equal((await processStream(target, credentials(pki))).messages, 0);
  });

  test('a client certificate from another CA is refused, even with an allowed identity', async () => {
    const outcome = await healthCheck(target, credentials(pki, pki.foreign));
    assert.equal(outcome.ok, false);
    assert.equal((await processStream(target, credentials(pki, pki.foreign))).messages, 0);
  });

  test('a verified certificate whose identity is not in allowedClients gets PERMISSION_DENIED, and no stage runs', async () => {
    const creds = credentials(pki, pki.clients['chatbot']);
    const outcome = await healthCheck(target, creds);
    assert.equal(!outcome.ok && outcome.code, grpc.status.PERMISSION_DENIED);
    const stream = await processStream(target, creds);
    assert.deepEqual(stream, { messages: 0, code: grpc.status.PERMISSION_DENIED });
  });
});

test('rotated certificate files apply to new connections without a restart', async (t) => {
  const pki = makeTestPki({ clients: { envoy: `URI:${ENVOY_ID}` } });
  const second = makeTestPki({ clients: { envoy: `URI:${ENVOY_ID}` } });
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-rotate-'));
  const files = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), ca: path.join(dir, 'ca.crt') };
  copyFileSync(pki.server.certFile, files.cert);
  copyFileSync(pki.server.keyFile, files.key);
  copyFileSync(pki.caFile, files.ca);
  const yaml = `extproc:
  address: 127.0.0.1:0
  tls: { certFile: ${files.cert}, keyFile: ${files.key}, clientCaFile: ${files.ca}, allowedClients: ["${ENVOY_ID}"], refreshIntervalMs: 100 }
admin: { enabled: false, address: 127.0.0.1:0 }
dataPlane: { enabled: false }
logging: { level: error }
`;
  const service = await startService({ configFile: '/dev/null', config: config(yaml), env: {} });
  const target = `127.0.0.1:${service.extprocPort}`;
  t.after(async () => {
    await service.close();
    pki.remove();
    second.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal((await healthCheck(target, credentials(pki, pki.clients['envoy']))).ok, true);
  // Rotate everything to the second PKI (a new CA, server certificate and key).
  copyFileSync(second.server.certFile, files.cert);
  copyFileSync(second.server.keyFile, files.key);
  copyFileSync(second.caFile, files.ca);
  const deadline = Date.now() + 5000;
  let outcome: Outcome = { ok: false, code: grpc.status.UNKNOWN, details: '' };
  while (Date.now() < deadline) {
    outcome = await healthCheck(target, credentials(second, second.clients['envoy']));
    if (outcome.ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(outcome.ok, true, 'the new PKI is served');
  assert.equal(
    (await healthCheck(target, credentials(pki, pki.clients['envoy']))).ok,
    false,
    'the old CA no longer is',
  );
});

describe('the config refuses unprotected listeners beyond loopback', () => {
  const problems = (yaml: string) => {
    const result = parseConfig(yaml);
    return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
  };
  test('loopback needs nothing', () => {
    assert.deepEqual(problems('extproc: { address: "127.0.0.1:50051" }\nadmin: { address: "[::1]:9090" }'), []);
  });
  test('ext_proc on 0.0.0.0 needs tls or allowInsecure', () => {
    assert.match(
      problems('extproc: { address: "0.0.0.0:50051" }').join('\n'),
      /extproc\.address.*not loopback.*extproc\.tls/,
    );
    assert.deepEqual(problems('extproc: { address: "0.0.0.0:50051", allowInsecure: true }'), []);
    assert.deepEqual(
      problems(
        'extproc: { address: "0.0.0.0:50051", tls: { certFile: a, keyFile: b, clientCaFile: c, allowedClients: ["spiffe://x/y"] } }',
      ),
      [],
    );
  });
  test('tls needs at least one allowed client in a known notation', () => {
    assert.match(
      problems('extproc: { tls: { certFile: a, keyFile: b, clientCaFile: c, allowedClients: [] } }').join('\n'),
      /allowedClients/,
    );
    assert.match(
      problems('extproc: { tls: { certFile: a, keyFile: b, clientCaFile: c, allowedClients: ["envoy"] } }').join('\n'),
      /allowedClients/,
    );
  });
  test('admin on 0.0.0.0 needs tokenEnv, tls or allowInsecure', () => {
    assert.match(problems('admin: { address: "0.0.0.0:9090" }').join('\n'), /admin\.address.*not loopback/);
    assert.deepEqual(problems('admin: { address: "0.0.0.0:9090", tokenEnv: ADMIN_TOKEN }'), []);
    assert.deepEqual(problems('admin: { address: "0.0.0.0:9090", allowInsecure: true }'), []);
    assert.deepEqual(problems('admin: { enabled: false, address: "0.0.0.0:9090" }'), []);
  });
  test('loopback detection', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'llm-extproc.svc', '128.0.0.1'])
      assert.equal(isLoopbackHost(host), false, host);
  });
});

test('certificate identities: URI and DNS SANs and the subject', (t) => {
  const pki = makeTestPki({ clients: { multi: `URI:${ENVOY_ID},DNS:envoy.gateway.svc` } });
  t.after(() => pki.remove());
  const multi = pki.clients['multi'];
  assert.ok(multi);
  assert.deepEqual(
    certificateIdentities(readFileSync(multi.certFile)).sort(),
    [ENVOY_ID, 'dns:envoy.gateway.svc', 'subject:CN=multi,O=llm-extproc-test'].sort(),
  );
});

test('tokens compare in constant time and never match empty', () => {
  assert.equal(tokenMatches('s3cret', 's3cret'), true);
  assert.equal(tokenMatches('s3cret', 's3creT'), false);
  assert.equal(tokenMatches('', ''), false);
});

/** GET over HTTP(S) with optional bearer token and client certificate. */
function get(url: string, options: { token?: string; ca?: string; client?: TestCert } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
        ...(options.ca ? { ca: readFileSync(options.ca) } : {}),
        ...(options.client
          ? { cert: readFileSync(options.client.certFile), key: readFileSync(options.client.keyFile) }
          : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function httpGet(url: string, token?: string): Promise<number> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  await res.arrayBuffer();
  return res.status;
}

const BUDGETS_YAML = `budgets:
  organisations:
    - name: acme
      teams:
        - name: search
          keys: [{ name: k1, sha256: "${'a'.repeat(64)}" }]
`;

describe('admin: /budgets needs the bearer token or an allowed client certificate', () => {
  test('a token from admin.tokenEnv; probes and metrics stay open', async (t) => {
    const parsed = parseConfig(
      `admin: { address: 127.0.0.1:0, tokenEnv: ADMIN_TOKEN }\ndataPlane: { enabled: false }\nextproc: { address: 127.0.0.1:0 }\nlogging: { level: error }\n${BUDGETS_YAML}`,
    );
    if (!parsed.ok) return t.skip(`budgets config shape changed: ${JSON.stringify(parsed.problems)}`);
    const service = await startService({
      configFile: '/dev/null',
      config: parsed.config,
      env: { ADMIN_TOKEN: 'tok-123' },
    });
    const base = `http://127.0.0.1:${service.adminPort}`;
    t.after(() => service.close());
    assert.equal(await httpGet(`${base}/budgets`), 401);
    assert.equal(await httpGet(`${base}/budgets`, 'wrong'), 401);
    assert.equal(await httpGet(`${base}/budgets`, 'tok-123'), 200);
    assert.equal(await httpGet(`${base}/nothing-here`), 401, 'unknown paths are not probed without credentials');
    for (const open of ['/healthz', '/readyz', '/metrics']) assert.notEqual(await httpGet(`${base}${open}`), 401, open);
  });

  test('admin.tokenEnv unset in the environment: protected paths stay closed, probes work', async (t) => {
    const cfg = config(
      'admin: { address: 127.0.0.1:0, tokenEnv: ADMIN_TOKEN }\ndataPlane: { enabled: false }\nextproc: { address: 127.0.0.1:0 }\nlogging: { level: error }\n',
    );
    const service = await startService({ configFile: '/dev/null', config: cfg, env: {} });
    const base = `http://127.0.0.1:${service.adminPort}`;
    t.after(() => service.close());
    assert.equal(await httpGet(`${base}/budgets`), 401);
    assert.equal(await httpGet(`${base}/budgets`, ''), 401);
    assert.equal(await httpGet(`${base}/budgets`, 'anything'), 401);
    assert.equal(await httpGet(`${base}/healthz`), 200);
  });

  test('mTLS on admin: an allowed client certificate opens /budgets, others get 401/403, probes need none', async (t) => {
    const pki = makeTestPki({
      clients: { operator: 'URI:spiffe://llm.test/ns/ops/sa/operator', chatbot: `URI:${OTHER_ID}` },
    });
    const cfg = config(`admin:
  address: 127.0.0.1:0
  tls: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile}, clientCaFile: ${pki.caFile}, allowedClients: ["spiffe://llm.test/ns/ops/sa/operator"] }
dataPlane: { enabled: false }
extproc: { address: 127.0.0.1:0 }
logging: { level: error }
`);
    const service = await startService({ configFile: '/dev/null', config: cfg, env: {} });
    const base = `https://127.0.0.1:${service.adminPort}`;
    t.after(async () => {
      await service.close();
      pki.remove();
    });
    assert.equal(await get(`${base}/healthz`, { ca: pki.caFile }), 200);
    assert.equal(await get(`${base}/budgets`, { ca: pki.caFile }), 401);
    assert.equal(await get(`${base}/budgets`, { ca: pki.caFile, client: pki.clients['chatbot'] }), 403);
    assert.equal(
      await get(`${base}/budgets`, { ca: pki.caFile, client: pki.foreign }),
      401,
      'a certificate from another CA is not verified',
    );
    assert.equal(await get(`${base}/budgets`, { ca: pki.caFile, client: pki.clients['operator'] }), 200, 'authorised');
    // Plain HTTP on the TLS port gets nothing.
    await assert.rejects(httpGet(`http://127.0.0.1:${service.adminPort}/budgets`));
  });
});
