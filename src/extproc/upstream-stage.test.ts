import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { BACKEND_HEADER, CLUSTER_BACKEND_ATTRIBUTE, ROUTE_HEADER } from './contract.js';
import { UpstreamStage, UpstreamStageError } from './upstream-stage.js';
import { CHAT_HEADERS, common, requestBody, requestHeaders, responseHeaders, setHeaders } from './testing.js';

const snapshot = snapshotFromYaml(TWO_BACKENDS_YAML, { PRIMARY_KEY: 'sk-primary' });
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
const CLIENT = { ...CHAT_HEADERS, authorization: 'Bearer virtual-key', [ROUTE_HEADER]: 'llm.gpt-4o-mini' };

test('the attempt is rewritten for the endpoint’s backend: path, key, model, content-length', () => {
  const stage = new UpstreamStage(snapshot);
  assert.ok(stage.handle(requestHeaders(CLIENT, false, 'primary')).request_headers);
  const response = stage.handle(requestBody(CHAT));
  const headers = setHeaders(response);
  const body = Buffer.from(common(response)?.body_mutation?.body as Buffer);
  assert.equal(headers[':path'], undefined, 'an unchanged path is not sent again');
  assert.equal(headers.authorization, 'Bearer sk-primary');
  assert.equal(headers['content-length'], String(body.length));
  assert.equal(JSON.parse(body.toString()).model, 'gpt-4o-mini');
  assert.ok(common(response)?.header_mutation?.remove_headers?.includes(ROUTE_HEADER));
  assert.equal(headers['accept-encoding'], 'identity', 'responses must come back readable for the router stage');
});

test('a path that differs from the backend’s is rewritten', () => {
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders({ ...CLIENT, ':path': '/chat/completions' }, false, 'primary'));
  assert.equal(setHeaders(stage.handle(requestBody(CHAT)))[':path'], '/v1/chat/completions');
});

test('a key-less backend gets the mapped model and the client’s credential removed', () => {
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders(CLIENT, false, 'local'));
  const response = stage.handle(requestBody(CHAT));
  assert.equal(JSON.parse(Buffer.from(common(response)?.body_mutation?.body as Buffer).toString()).model, 'llama-3-8b');
  assert.equal(setHeaders(response).authorization, undefined);
  assert.ok(common(response)?.header_mutation?.remove_headers?.includes('authorization'));
});

test('a retry on another backend removes headers the previous attempt’s backend set', () => {
  // Envoy hands attempt 2 the header map attempt 1 rewrote: it still carries local's static header.
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders({ ...CLIENT, 'x-local-tenant': 'team-a' }, false, 'primary'));
  const response = stage.handle(requestBody(CHAT));
  assert.ok(common(response)?.header_mutation?.remove_headers?.includes('x-local-tenant'));
  assert.equal(setHeaders(response).authorization, 'Bearer sk-primary');
});

test('a backend’s static headers are sent', () => {
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders(CLIENT, false, 'local'));
  assert.equal(setHeaders(stage.handle(requestBody(CHAT)))['x-local-tenant'], 'team-a');
});

test('the response is tagged with the backend for the router stage', () => {
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders(CLIENT, false, 'primary'));
  stage.handle(requestBody(CHAT));
  assert.equal(setHeaders(stage.handle(responseHeaders({ ':status': '200' })))[BACKEND_HEADER], 'primary');
});

test('under Istio the backend can come from cluster metadata instead of endpoint metadata', () => {
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders(CLIENT, false, 'local', CLUSTER_BACKEND_ATTRIBUTE));
  const response = stage.handle(requestBody(CHAT));
  assert.equal(JSON.parse(Buffer.from(common(response)?.body_mutation?.body as Buffer).toString()).model, 'llama-3-8b');
});

test('missing endpoint metadata, unknown or disabled backends fail the stream', () => {
  assert.throws(() => new UpstreamStage(snapshot).handle(requestHeaders(CLIENT)), UpstreamStageError);
  assert.throws(() => new UpstreamStage(snapshot).handle(requestHeaders(CLIENT, false, 'ghost')), /does not define/);
  const noKey = snapshotFromYaml(TWO_BACKENDS_YAML, {});
  assert.throws(
    () => new UpstreamStage(noKey).handle(requestHeaders(CLIENT, false, 'primary')),
    /PRIMARY_KEY is not set/,
  );
});

test('a backend that does not serve the requested model fails the stream', () => {
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders(CLIENT, false, 'local'));
  assert.throws(
    () =>
      stage.handle(requestBody(JSON.stringify({ model: 'keyed-only', messages: [{ role: 'user', content: 'x' }] }))),
    /does not serve/,
  );
});

test('client headers leave only from the allowlist; hop-by-hop, internal and body-describing ones are removed', () => {
  const stage = new UpstreamStage(snapshot);
  const sent = {
    ...CLIENT,
    cookie: 'a=b',
    'proxy-authorization': 'Basic x',
    'openai-organization': 'org',
    'openai-project': 'proj',
    'x-envoy-max-retries': '9',
    'x-llm-extproc-backend': 'spoof',
    'content-encoding': 'gzip',
    connection: 'keep-alive',
    'x-anything': 'else',
    // Names an object lookup would find on the prototype chain.
    constructor: 'x',
    ['__proto__']: 'y',
    'user-agent': 'app/1',
    accept: 'application/json',
    traceparent: '00-1-2-01',
    host: 'gateway.local',
  };
  stage.handle(requestHeaders(sent, false, 'primary'));
  const response = stage.handle(requestBody(CHAT));
  const removed = common(response)?.header_mutation?.remove_headers ?? [];
  assert.equal(
    setHeaders(response).authorization,
    'Bearer sk-primary',
    "the client's credential is replaced by the backend's",
  );
  for (const name of [
    'cookie',
    'proxy-authorization',
    'openai-organization',
    'openai-project',
    'x-envoy-max-retries',
    'x-llm-extproc-backend',
    'content-encoding',
    'connection',
    'x-anything',
    'constructor',
    '__proto__',
    ROUTE_HEADER,
  ]) {
    assert.ok(removed.includes(name), `${name} removed`);
  }
  for (const name of [
    'user-agent',
    'accept',
    'traceparent',
    'x-request-id',
    'host',
    ':path',
    ':method',
    'content-type',
  ])
    assert.ok(!removed.includes(name), `${name} kept`);
});

test("a provider's 401/403 (the gateway's key) becomes a retriable 502 with the internal marker; other statuses lose any marker", () => {
  for (const status of ['401', '403']) {
    const stage = new UpstreamStage(snapshot);
    stage.handle(requestHeaders(CLIENT, false, 'primary'));
    stage.handle(requestBody(CHAT));
    const response = stage.handle(responseHeaders({ ':status': status }));
    assert.equal(setHeaders(response)[':status'], '502');
    assert.equal(setHeaders(response)['x-llm-extproc-upstream-auth'], status);
  }
  const stage = new UpstreamStage(snapshot);
  stage.handle(requestHeaders(CLIENT, false, 'primary'));
  stage.handle(requestBody(CHAT));
  const ok = stage.handle(responseHeaders({ ':status': '400', 'x-llm-extproc-upstream-auth': '401' }));
  assert.equal(setHeaders(ok)[':status'], undefined);
  assert.ok(
    common(ok)?.header_mutation?.remove_headers?.includes('x-llm-extproc-upstream-auth'),
    'a provider cannot forge the marker',
  );
});
