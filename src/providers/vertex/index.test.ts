import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveTopology } from '../../config/topology.js';
import { attemptCredentials } from '../../credentials/index.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import { methodPath, vertexResource } from '../gemini/endpoint.js';
import { vertexProvider } from './index.js';

const tokenDir = mkdtempSync(path.join(tmpdir(), 'vertex-token-'));
after(() => rmSync(tokenDir, { recursive: true, force: true }));
const tokenFile = path.join(tokenDir, 'token');
writeFileSync(tokenFile, 'ya29.from-file\n');

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: vertex-env, provider: vertex, project: my-proj, location: us-central1, accessTokenEnv: VERTEX_TOKEN }
  - { name: vertex-global, provider: vertex, project: my-proj, location: global, apiVersion: v1beta1, accessTokenFile: "${tokenFile}" }
routes:
  - model: m
    backends: [{ backend: vertex-env }, { backend: vertex-global }]
`),
  { VERTEX_TOKEN: 'ya29.from-env' },
);
const backend = (name: string) => topology.backends.get(name)!;
const chat = (fields: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...fields }));
const now = new Date();

test('Vertex AI: regional host, versioned publisher path, bearer token from the environment', () => {
  const out = vertexProvider.buildRequest(chat(), {
    backend: backend('vertex-env'),
    upstreamModel: 'gemini-2.5-flash',
    now,
    credentials: attemptCredentials(backend('vertex-env')),
  });
  assert.equal(backend('vertex-env').baseUrl.host, 'us-central1-aiplatform.googleapis.com');
  assert.equal(
    out.path,
    '/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent',
  );
  assert.deepEqual(out.headers, { 'content-type': 'application/json', authorization: 'Bearer ya29.from-env' });
});

test('Vertex AI global location, v1beta1 and a token file, streamed', () => {
  const out = vertexProvider.buildRequest(chat({ stream: true }), {
    backend: backend('vertex-global'),
    upstreamModel: 'gemini-2.5-pro',
    now,
    credentials: attemptCredentials(backend('vertex-global')),
  });
  assert.equal(backend('vertex-global').baseUrl.host, 'aiplatform.googleapis.com');
  assert.equal(
    out.path,
    '/v1beta1/projects/my-proj/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse',
  );
  assert.equal(out.headers.authorization, 'Bearer ya29.from-file', 'the file content is trimmed');
});

test('Vertex AI model names with a slash are resources below the location, or full names', () => {
  const base = { apiVersion: 'v1', project: 'p', location: 'europe-west4' };
  assert.equal(
    vertexResource({ ...base, model: 'endpoints/123' }),
    'v1/projects/p/locations/europe-west4/endpoints/123',
  );
  assert.equal(
    vertexResource({ ...base, model: 'projects/q/locations/us-east5/endpoints/9' }),
    'v1/projects/q/locations/us-east5/endpoints/9',
  );
  assert.equal(methodPath(new URL('https://h/'), 'v1/x', 'generateContent'), '/v1/x:generateContent');
});
