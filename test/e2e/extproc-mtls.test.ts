// End to end with mutual TLS between a real Envoy 1.40 and the service: the service runs with extproc.tls (on
// 127.0.0.1, TLS forced on), Envoy's llm-extproc cluster carries the UpstreamTlsContext `envoy-bootstrap
// --extproc-cert/--extproc-key/--extproc-ca` generates. With Envoy's certificate in allowedClients requests flow;
// with a certificate the allowlist does not name, nothing is served and no provider key leaves the service.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { COMPLETION_TEXT, startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startTestService, type TestService } from '../support/service.js';
import { makeTestPki, type TestCert, type TestPki } from '../../src/security/testing.js';

const ENVOY_ID = 'spiffe://llm.test/ns/gateway/sa/envoy';
const OTHER_ID = 'spiffe://llm.test/ns/apps/sa/chatbot';

function serviceYaml(pki: TestPki, upstream: MockOpenAI): string {
  return `extproc:
  address: 127.0.0.1:0
  tls: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile}, clientCaFile: ${pki.caFile}, allowedClients: ["${ENVOY_ID}"] }
backends:
  - { name: primary, provider: openai, baseUrl: "${upstream.baseUrl}", apiKeyEnv: E2E_MTLS_KEY }
routes:
  - { model: gpt-4o-mini, backends: [{ backend: primary }] }
`;
}

function envoyTls(pki: TestPki, client: TestCert | undefined) {
  assert.ok(client);
  return {
    certFile: client.certFile,
    keyFile: client.keyFile,
    caFile: pki.caFile,
    sni: 'llm-extproc.test',
    serviceSan: 'llm-extproc.test',
  };
}

describe('Envoy ↔ llm-extproc over mutual TLS', () => {
  let pki: TestPki;
  let upstream: MockOpenAI;
  before(async () => {
    pki = makeTestPki({ clients: { envoy: `URI:${ENVOY_ID}`, chatbot: `URI:${OTHER_ID}` } });
    upstream = await startMockOpenAI({ apiKey: 'sk-mtls' });
  });
  after(async () => {
    await upstream?.close();
    pki?.remove();
  });

  test('Envoy with an allowed client certificate: completions and streams work', async (t) => {
    const service: TestService = await startTestService(
      serviceYaml(pki, upstream),
      { E2E_MTLS_KEY: 'sk-mtls' },
      {
        extprocTls: envoyTls(pki, pki.clients['envoy']),
        ...(process.env.MTLS_DEBUG ? { envoyLogLevel: 'debug' as const } : {}),
      },
    );
    t.after(() => service.close());
    const client = new OpenAI({ baseURL: service.baseUrl, apiKey: 'client-key', maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(completion.choices[0]?.message.content, COMPLETION_TEXT);
    assert.equal(upstream.received.at(-1)?.headers.authorization, 'Bearer sk-mtls');
    let text = '';
    for await (const chunk of await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, COMPLETION_TEXT);
    // Envoy's own view: TLS handshakes on the llm-extproc cluster, none failed.
    const stats =
      (await service.envoy?.admin('/stats?filter=^cluster\\.llm-extproc\\.ssl\\.(handshake|connection_error)$'))
        ?.body ?? '';
    assert.match(stats, /cluster\.llm-extproc\.ssl\.handshake: [1-9]/, stats);
  });

  test('Envoy with a certificate outside allowedClients: nothing is served, no key reaches the provider', async (t) => {
    const before = upstream.received.length;
    const service: TestService = await startTestService(
      serviceYaml(pki, upstream),
      { E2E_MTLS_KEY: 'sk-mtls' },
      { extprocTls: envoyTls(pki, pki.clients['chatbot']) },
    );
    t.after(() => service.close());
    const res = await fetch(`${service.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await res.text();
    assert.ok(res.status >= 500, `${res.status} ${body}`);
    assert.match(body, /gateway_(unavailable|error)/);
    assert.equal(upstream.received.length, before, 'the provider saw nothing');
  });
});
