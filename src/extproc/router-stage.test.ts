import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { BACKEND_HEADER, METADATA_NAMESPACE, ROUTE_HEADER } from './contract.js';
import { RouterStage } from './router-stage.js';
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ConfigSnapshot } from '../config/store.js';

/** Without budgets every answer is synchronous; the wrapper says so loudly if one is not. */
function syncRouterStage(snapshot: ConfigSnapshot) {
  const stage = new RouterStage(snapshot);
  return {
    handle(message: ProcessingRequest__Output) {
      const result = stage.handle(message);
      if (result instanceof Promise) throw new Error('expected a synchronous answer');
      return result;
    },
  };
}
import {
  CHAT_HEADERS,
  common,
  immediate,
  metadataValues,
  requestBody,
  requestHeaders,
  responseBody,
  responseHeaders,
  setHeaders,
} from './testing.js';

const withKey = snapshotFromYaml(TWO_BACKENDS_YAML, { PRIMARY_KEY: 'k' });
const noKey = snapshotFromYaml(TWO_BACKENDS_YAML, {});
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

function afterHeaders(snapshot = withKey) {
  const stage = syncRouterStage(snapshot);
  const headersResponse = stage.handle(requestHeaders(CHAT_HEADERS));
  assert.ok(headersResponse.request_headers, 'headers are answered with a headers response');
  return stage;
}

test('a valid request is routed: route header set and route cache cleared in the same response', () => {
  const response = afterHeaders().handle(requestBody(CHAT));
  assert.equal(setHeaders(response)[ROUTE_HEADER], 'llm.gpt-4o-mini');
  assert.equal(common(response)?.clear_route_cache, true);
  assert.deepEqual(metadataValues(response, METADATA_NAMESPACE), {
    model: 'gpt-4o-mini',
    route: 'llm.gpt-4o-mini',
    stream: false,
  });
});

test('malformed JSON gets an OpenAI-shaped 400 carrying the request id', () => {
  const reply = immediate(afterHeaders().handle(requestBody('{"model": ')));
  assert.equal(reply?.status, 400);
  assert.deepEqual(Object.keys((reply?.body as { error: object }).error).sort(), ['code', 'message', 'param', 'type']);
  assert.match(String((reply?.body as { error: { message: string } }).error.message), /request id: req-1/);
  assert.equal(reply?.headers['x-request-id'], 'req-1');
  assert.equal(reply?.headers['content-type'], 'application/json');
});

test('a schema violation names the field', () => {
  const reply = immediate(afterHeaders().handle(requestBody(JSON.stringify({ model: 'gpt-4o-mini', messages: [] }))));
  assert.equal(reply?.status, 400);
  assert.equal((reply?.body as { error: { param: string } }).error.param, 'messages');
});

test('an unknown model is a 404 model_not_found', () => {
  const reply = immediate(
    afterHeaders().handle(requestBody(JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }))),
  );
  assert.equal(reply?.status, 404);
  assert.equal((reply?.body as { error: { code: string } }).error.code, 'model_not_found');
});

test('a body over the configured limit is a 413', () => {
  const small = snapshotFromYaml(TWO_BACKENDS_YAML + 'limits:\n  maxRequestBodyBytes: 10\n', { PRIMARY_KEY: 'k' });
  const reply = immediate(afterHeaders(small).handle(requestBody(CHAT)));
  assert.equal(reply?.status, 413);
});

test('a model whose every backend is disabled is a generic 503: no environment variable names reach the client', () => {
  const reply = immediate(
    afterHeaders(noKey).handle(
      requestBody(JSON.stringify({ model: 'keyed-only', messages: [{ role: 'user', content: 'x' }] })),
    ),
  );
  assert.equal(reply?.status, 503);
  const message = String((reply?.body as { error: { message: string } }).error.message);
  assert.doesNotMatch(message, /PRIMARY_KEY|environment variable/);
  assert.match(message, /No backend is currently available for model 'keyed-only'/);
});

test('a model with one usable backend left is still routed', () => {
  const response = afterHeaders(noKey).handle(requestBody(CHAT));
  assert.equal(response.immediate_response, undefined);
});

test('unknown paths are OpenAI-shaped 404s; GET /v1/models lists the routes', () => {
  const unknown = immediate(
    syncRouterStage(withKey).handle(requestHeaders({ ':method': 'POST', ':path': '/v1/nope' })),
  );
  assert.equal(unknown?.status, 404);
  const models = immediate(
    syncRouterStage(withKey).handle(requestHeaders({ ':method': 'GET', ':path': '/v1/models' }, true)),
  );
  assert.equal(models?.status, 200);
  assert.deepEqual(
    (models?.body as { data: Array<{ id: string }> }).data.map((m) => m.id),
    ['gpt-4o-mini', 'keyed-only'],
  );
});

test("an SSE 200 switches the response body to STREAMED and leaves the serving backend's tag to the client (the upstream stage set it)", () => {
  const stage = afterHeaders();
  stage.handle(
    requestBody(JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] })),
  );
  const response = stage.handle(
    responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', [BACKEND_HEADER]: 'primary' }),
  );
  assert.equal(response.mode_override?.response_body_mode, 'STREAMED');
  assert.deepEqual(common(response)?.header_mutation?.remove_headers, ['content-length']);
  assert.equal(setHeaders(response)[BACKEND_HEADER], undefined, 'already on the response: not sent again');
  const usage = 'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n';
  const first = stage.handle(responseBody('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', false));
  assert.equal(common(first)?.body_mutation, undefined, 'whole events pass through untouched');
  const last = stage.handle(responseBody(usage + 'data: [DONE]\n\n', true));
  // The stream never sent a finish_reason: the gateway adds one before [DONE] (StreamCompletion).
  const finish =
    'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n';
  assert.equal(Buffer.from(common(last)?.body_mutation?.body as Buffer).toString(), finish + 'data: [DONE]\n\n');
  assert.equal(metadataValues(last, METADATA_NAMESPACE).total_tokens, 6);
});

test('a JSON response stays BUFFERED, its headers pass unchanged (an empty answer), and usage goes to dynamic metadata', () => {
  const stage = afterHeaders();
  stage.handle(requestBody(CHAT));
  const headers = stage.handle(
    responseHeaders({ ':status': '200', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
  );
  assert.equal(headers.mode_override, undefined);
  assert.deepEqual(headers, { response_headers: {} }, 'the tag the upstream stage set stays: nothing to change');
  const body = stage.handle(
    responseBody(
      JSON.stringify({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } }),
      true,
    ),
  );
  assert.equal(common(body)?.body_mutation, undefined);
  assert.deepEqual(metadataValues(body, METADATA_NAMESPACE), {
    backend: 'primary',
    status: 200,
    prompt_tokens: 2,
    completion_tokens: 3,
    total_tokens: 5,
    cached_prompt_tokens: 0,
    reasoning_tokens: 0,
  });
});

test('an Envoy local reply (no backend tag) becomes an OpenAI error with a matching content-length', () => {
  const stage = afterHeaders();
  stage.handle(requestBody(CHAT));
  stage.handle(responseHeaders({ ':status': '503', 'content-type': 'text/plain' }));
  const body = stage.handle(responseBody('no healthy upstream', true));
  const replaced = Buffer.from(common(body)?.body_mutation?.body as Buffer);
  // Every error the client sees carries the request id, in the message and in x-request-id.
  assert.equal(JSON.parse(replaced.toString()).error.message, 'no healthy upstream (request id: req-1)');
  assert.equal(setHeaders(body)['content-length'], String(replaced.length));
  assert.equal(setHeaders(body)['x-request-id'], 'req-1');
});

test('an error response without a body gets an OpenAI-shaped body (CONTINUE_AND_REPLACE)', () => {
  const stage = afterHeaders();
  stage.handle(requestBody(CHAT));
  const response = stage.handle(responseHeaders({ ':status': '500' }, true));
  assert.equal(common(response)?.status, 'CONTINUE_AND_REPLACE');
  const body = Buffer.from(common(response)?.body_mutation?.body as Buffer);
  assert.match(JSON.parse(body.toString()).error.message, /failed before any backend answered \(HTTP 500\)/);
  assert.equal(setHeaders(response)['content-length'], String(body.length));
});

test("a provider's 200 without a body is the same 502 upstream_invalid_response as any unreadable answer", () => {
  const stage = afterHeaders();
  stage.handle(requestBody(CHAT));
  const response = stage.handle(
    responseHeaders({ ':status': '200', 'content-length': '0', [BACKEND_HEADER]: 'primary' }, true),
  );
  assert.equal(common(response)?.status, 'CONTINUE_AND_REPLACE');
  assert.equal(setHeaders(response)[':status'], '502');
  const body = Buffer.from(common(response)?.body_mutation?.body as Buffer);
  const error = JSON.parse(body.toString()).error as { code: string; message: string };
  assert.equal(error.code, 'upstream_invalid_response');
  assert.match(error.message, /without a body/);
  assert.equal(setHeaders(response)['content-length'], String(body.length));
});

test('a backend tag that is not in the config is ignored (it would become a metric label)', () => {
  const stage = afterHeaders();
  stage.handle(requestBody(CHAT));
  const response = stage.handle(
    responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', [BACKEND_HEADER]: 'forged' }),
  );
  assert.equal(response.mode_override, undefined);
  // …and never reaches the client.
  assert.ok(common(response)?.header_mutation?.remove_headers?.includes(BACKEND_HEADER));
  assert.equal(setHeaders(response)[BACKEND_HEADER], undefined);
});
