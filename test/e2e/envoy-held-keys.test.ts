// Experiment (docs/envoy.md, "Letting Envoy hold the keys"): can Envoy 1.40 itself add the provider credential
// after our upstream ext_proc, so no key crosses the gRPC connection? Two upstream HTTP filters are placed between
// the upstream ext_proc and upstream_codec of a generated bootstrap:
// - envoy.filters.http.credential_injector with a generic credential from a file-based SDS secret (OpenAI-style
//   `Authorization: Bearer …`), with a backend the service holds no key for; the SDS file is rotated live;
// - envoy.filters.http.aws_request_signing (SigV4 over the body our upstream stage translated) against the mock
//   Bedrock, which verifies signatures with its own implementation of the specification.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startService, type RunningService } from '../../src/service.js';
import { buildBootstrap } from '../../src/envoyconfig/bootstrap.js';
import type { JsonObject, JsonValue } from '../../src/util/json.js';
import { startEnvoy, type RunningEnvoy } from '../../src/envoy/process.js';
import { validateWithEnvoy } from '../../src/envoy/validate.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startMockBedrock, type MockBedrock } from '../support/mock-bedrock.js';

const REGION = 'us-east-1';
const AWS = { accessKeyId: 'AKIDENVOYHELD000', secretAccessKey: 'envoy-held-secret-key' };

function sdsFile(dir: string, name: string, value: string): string {
  const file = path.join(dir, `${name}.yaml`);
  const tmp = `${file}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify({
      resources: [
        {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
          name,
          generic_secret: { secret: { inline_string: value } },
        },
      ],
    }),
  );
  renameSync(tmp, file); // atomic, as Kubernetes secret volumes do it
  return file;
}

function credentialInjector(secretFile: string, dir: string): JsonObject {
  return {
    name: 'envoy.filters.http.credential_injector',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector',
      overwrite: true,
      credential: {
        name: 'envoy.http.injected_credentials.generic',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic',
          credential: {
            name: 'openai-key',
            sds_config: { path_config_source: { path: secretFile, watched_directory: { path: dir } } },
          },
          header: 'authorization',
        },
      },
    },
  };
}

const AWS_SIGNING: JsonObject = {
  name: 'envoy.filters.http.aws_request_signing',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.aws_request_signing.v3.AwsRequestSigning',
    service_name: 'bedrock',
    region: REGION,
    // Sign the body (x-amz-content-sha256 = its hash): the filter buffers it, after our stage translated it.
    use_unsigned_payload: false,
    credential_provider: {
      inline_credential: { access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey },
    },
  },
};

/** Inserts `filter` after the upstream ext_proc of the cluster named `cluster`, before upstream_codec. */
function withUpstreamFilter(bootstrap: JsonObject, cluster: string, filter: JsonObject): JsonObject {
  const clusters = (bootstrap.static_resources as { clusters: JsonObject[] }).clusters;
  const target = clusters.find((c) => c.name === cluster);
  assert.ok(target, cluster);
  const options = (target.typed_extension_protocol_options as Record<string, { http_filters: JsonValue[] }>)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ];
  assert.ok(options);
  options.http_filters.splice(options.http_filters.length - 1, 0, filter);
  return bootstrap;
}

async function chat(baseUrl: string, model: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer client-virtual-key' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, body: await res.text() };
}

describe('Envoy holds the provider keys (credential_injector / aws_request_signing after our upstream ext_proc)', () => {
  let dir: string;
  let openai: MockOpenAI;
  let bedrock: MockBedrock;
  let service: RunningService;
  let envoy: RunningEnvoy;
  let baseUrl: string;
  let secretFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-sds-'));
    secretFile = sdsFile(dir, 'openai-key', 'Bearer sk-held-by-envoy');
    openai = await startMockOpenAI();
    bedrock = await startMockBedrock({ region: REGION, credentials: AWS, apiKey: 'unused-bedrock-api-key' });
    const parsed = parseConfig(`extproc: { address: 127.0.0.1:0 }
admin: { enabled: false, address: 127.0.0.1:0 }
dataPlane: { enabled: false }
logging: { level: error }
backends:
  # No apiKeyEnv: the service holds no key for it; Envoy's credential_injector adds one.
  - { name: oai, provider: openai-compatible, baseUrl: "${openai.baseUrl}" }
  # The service signs with a placeholder key (it needs some to enable the backend); Envoy re-signs with the real one.
  - { name: bed, provider: bedrock, region: ${REGION}, baseUrl: "${bedrock.baseUrl}", accessKeyIdEnv: PLACEHOLDER_ID, secretAccessKeyEnv: PLACEHOLDER_SECRET }
routes:
  - { model: m-openai, backends: [{ backend: oai }] }
  - { model: m-bedrock, backends: [{ backend: bed, model: anthropic.claude-3-haiku }] }
`);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    service = await startService({
      configFile: '/dev/null',
      config: parsed.config,
      env: { PLACEHOLDER_ID: 'AKIDPLACEHOLDER', PLACEHOLDER_SECRET: 'not-the-real-secret' },
    });
    let bootstrap = buildBootstrap(parsed.config, {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      extproc: `127.0.0.1:${service.extprocPort}`,
    });
    bootstrap = withUpstreamFilter(bootstrap, 'llm.m-openai', credentialInjector(secretFile, dir));
    bootstrap = withUpstreamFilter(bootstrap, 'llm.m-bedrock', AWS_SIGNING);
    const text = JSON.stringify(bootstrap);
    const validation = await validateWithEnvoy(text);
    assert.ok(validation.ok, validation.output);
    envoy = await startEnvoy({ bootstrap: text });
    baseUrl = `http://127.0.0.1:${envoy.listenerPorts.get('llm_ingress')}`;
  });

  after(async () => {
    await envoy?.stop();
    await service?.close();
    await openai?.close();
    await bedrock?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('credential_injector: the upstream gets the SDS secret as Authorization, and a rotated file applies', async () => {
    const first = await chat(baseUrl, 'm-openai');
    assert.equal(first.status, 200, first.body);
    assert.equal(
      openai.received.at(-1)?.headers.authorization,
      'Bearer sk-held-by-envoy',
      'injected by Envoy, not the client key',
    );
    sdsFile(dir, 'openai-key', 'Bearer sk-rotated');
    const deadline = Date.now() + 5000;
    let seen: string | string[] | undefined;
    while (Date.now() < deadline) {
      const res = await chat(baseUrl, 'm-openai');
      assert.equal(res.status, 200, res.body);
      seen = openai.received.at(-1)?.headers.authorization;
      if (seen === 'Bearer sk-rotated') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(seen, 'Bearer sk-rotated', 'the rotated secret is used without an Envoy restart');
  });

  test('aws_request_signing: Envoy re-signs the translated Converse body and the mock verifies its signature', async () => {
    const res = await chat(baseUrl, 'm-bedrock');
    assert.equal(res.status, 200, `${res.body}\nrefused by the mock: ${bedrock.refused.join('; ')}`);
    const call = bedrock.received.at(-1);
    assert.equal(call?.auth, 'sigv4');
    assert.match(
      String(call?.headers.authorization),
      new RegExp(`Credential=${AWS.accessKeyId}/`),
      'signed with the key only Envoy holds',
    );
  });
});
