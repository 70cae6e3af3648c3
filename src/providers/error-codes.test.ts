// Every provider's error → the OpenAI error the client sees, as one table per provider (one row, one test): the
// status (the one Envoy's retry policy and the client act on), OpenAI's error `type`, and `code`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { translateErrorResponse as anthropicError } from './anthropic/errors.js';
import { translateAzureError as azureError } from './azure-openai/errors.js';
import { mapHttpError as bedrockHttpError, mapStreamException as bedrockStreamException } from './bedrock/errors.js';
import { translateCohereError as cohereError } from './cohere/errors.js';
import { mapGoogleError as googleError } from './gemini/errors.js';
import type { TranslatedBody } from './provider.js';
import { normaliseErrorBody, type OpenAIErrorBody } from '../unified/errors.js';

interface Seen {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** What a translated error body says, at the status the client gets. */
function seen(upstreamStatus: number, out: TranslatedBody): Seen {
  const body = JSON.parse((out.body ?? Buffer.alloc(0)).toString()) as OpenAIErrorBody;
  return { status: out.status ?? upstreamStatus, type: body.error.type, code: body.error.code };
}

describe('Gemini / Vertex: google.rpc status → HTTP status', () => {
  const TABLE: Array<[string, Seen]> = [
    ['INVALID_ARGUMENT', { status: 400, type: 'invalid_request_error', code: 'invalid_argument' }],
    ['FAILED_PRECONDITION', { status: 400, type: 'invalid_request_error', code: 'failed_precondition' }],
    ['OUT_OF_RANGE', { status: 400, type: 'invalid_request_error', code: 'out_of_range' }],
    ['UNAUTHENTICATED', { status: 401, type: 'authentication_error', code: 'unauthenticated' }],
    ['PERMISSION_DENIED', { status: 403, type: 'permission_error', code: 'permission_denied' }],
    ['NOT_FOUND', { status: 404, type: 'invalid_request_error', code: 'not_found' }],
    ['ABORTED', { status: 409, type: 'invalid_request_error', code: 'aborted' }],
    ['ALREADY_EXISTS', { status: 409, type: 'invalid_request_error', code: 'already_exists' }],
    ['RESOURCE_EXHAUSTED', { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' }],
    ['CANCELLED', { status: 499, type: 'invalid_request_error', code: 'cancelled' }],
    ['UNKNOWN', { status: 500, type: 'server_error', code: 'unknown' }],
    ['INTERNAL', { status: 500, type: 'server_error', code: 'internal' }],
    ['DATA_LOSS', { status: 500, type: 'server_error', code: 'data_loss' }],
    ['UNIMPLEMENTED', { status: 501, type: 'server_error', code: 'unimplemented' }],
    ['UNAVAILABLE', { status: 503, type: 'server_error', code: 'unavailable' }],
    ['DEADLINE_EXCEEDED', { status: 504, type: 'server_error', code: 'deadline_exceeded' }],
  ];
  for (const [rpcStatus, expected] of TABLE) {
    test(`${rpcStatus} → ${expected.status} ${expected.type}`, () => {
      // The HTTP status Google sent is overridden by the rpc status (a proxy may have changed it).
      const mapped = googleError({ error: { code: 400, message: 'm', status: rpcStatus } }, 400);
      assert.ok(mapped);
      assert.deepEqual({ status: mapped.status, type: mapped.body.error.type, code: mapped.body.error.code }, expected);
    });
  }
  test('an unknown rpc status keeps the numeric code', () => {
    assert.equal(googleError({ error: { code: 503, message: 'm', status: 'SOMETHING_NEW' } }, 500)?.status, 503);
  });
});

describe('Bedrock: HTTP status → status and type', () => {
  // 408 and 424 mean nothing to OpenAI clients: a model timeout is a gateway timeout, a model error a bad gateway.
  const TABLE: Array<[number, Omit<Seen, 'code'>]> = [
    [400, { status: 400, type: 'invalid_request_error' }],
    [401, { status: 401, type: 'authentication_error' }],
    [403, { status: 403, type: 'permission_error' }],
    [404, { status: 404, type: 'invalid_request_error' }],
    [408, { status: 504, type: 'server_error' }],
    [424, { status: 502, type: 'server_error' }],
    [429, { status: 429, type: 'rate_limit_error' }],
    [500, { status: 500, type: 'server_error' }],
    [503, { status: 503, type: 'server_error' }],
    // Not in the service model: the status stays, the type follows its class.
    [409, { status: 409, type: 'invalid_request_error' }],
    [502, { status: 502, type: 'server_error' }],
  ];
  for (const [status, expected] of TABLE) {
    test(`${status} → ${expected.status} ${expected.type}`, () => {
      const mapped = bedrockHttpError(status, json({ message: 'm' }));
      assert.deepEqual({ status: mapped.status, type: mapped.body.error.type }, expected);
    });
  }
});

describe('Bedrock: in-stream exception → type (the code names the exception)', () => {
  const TABLE: Array<[string, string]> = [
    ['validationException', 'invalid_request_error'],
    ['throttlingException', 'rate_limit_error'],
    ['modelStreamErrorException', 'server_error'],
    ['internalServerException', 'server_error'],
    ['serviceUnavailableException', 'server_error'],
    ['modelTimeoutException', 'server_error'],
    ['somethingNewException', 'server_error'],
  ];
  for (const [exception, type] of TABLE) {
    test(`${exception} → ${type}`, () => {
      const body = bedrockStreamException(exception, json({ message: 'm' }));
      assert.deepEqual([body.error.type, body.error.code], [type, exception]);
    });
  }
});

describe('Anthropic: status and error type → status, type, code', () => {
  // 529 overloaded (load across all users) becomes 503, what proxies and clients retry on.
  const TABLE: Array<[number, string, Seen]> = [
    [400, 'invalid_request_error', { status: 400, type: 'invalid_request_error', code: 'invalid_request_error' }],
    [401, 'authentication_error', { status: 401, type: 'invalid_request_error', code: 'authentication_error' }],
    [403, 'permission_error', { status: 403, type: 'invalid_request_error', code: 'permission_error' }],
    [404, 'not_found_error', { status: 404, type: 'invalid_request_error', code: 'not_found_error' }],
    [413, 'request_too_large', { status: 413, type: 'invalid_request_error', code: 'request_too_large' }],
    [429, 'rate_limit_error', { status: 429, type: 'invalid_request_error', code: 'rate_limit_error' }],
    [500, 'api_error', { status: 500, type: 'server_error', code: 'api_error' }],
    [504, 'timeout_error', { status: 504, type: 'server_error', code: 'timeout_error' }],
    [529, 'overloaded_error', { status: 503, type: 'server_error', code: 'overloaded_error' }],
    [500, 'overloaded_error', { status: 503, type: 'server_error', code: 'overloaded_error' }],
  ];
  for (const [status, anthropicType, expected] of TABLE) {
    test(`${status} ${anthropicType} → ${expected.status} ${expected.type}`, () => {
      const out = anthropicError(status, json({ type: 'error', error: { type: anthropicType, message: 'm' } }));
      assert.deepEqual(seen(status, out), expected);
    });
  }
});

describe('Cohere: status → status, type, code', () => {
  // Cohere's 498 "invalid token" is a 401.
  const TABLE: Array<[number, Seen]> = [
    [400, { status: 400, type: 'invalid_request_error', code: null }],
    [401, { status: 401, type: 'authentication_error', code: 'invalid_api_key' }],
    [403, { status: 403, type: 'permission_error', code: null }],
    [498, { status: 401, type: 'authentication_error', code: 'invalid_api_key' }],
    [404, { status: 404, type: 'invalid_request_error', code: 'model_not_found' }],
    [422, { status: 422, type: 'invalid_request_error', code: null }],
    [429, { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' }],
    [500, { status: 500, type: 'server_error', code: null }],
    [503, { status: 503, type: 'server_error', code: null }],
  ];
  for (const [status, expected] of TABLE) {
    test(`${status} → ${expected.status} ${expected.type}`, () =>
      assert.deepEqual(seen(status, cohereError(status, json({ message: 'm' }))), expected));
  }
});

describe('Azure OpenAI: an error without a type gets one by status; content-filter refusals are 400', () => {
  const TABLE: Array<[number, string | null, Seen]> = [
    [400, null, { status: 400, type: 'invalid_request_error', code: null }],
    [429, null, { status: 429, type: 'rate_limit_error', code: null }],
    [500, null, { status: 500, type: 'server_error', code: null }],
    [403, 'content_filter', { status: 400, type: 'invalid_request_error', code: 'content_filter' }],
  ];
  for (const [status, code, expected] of TABLE) {
    test(`${status} ${code ?? '(no code)'} → ${expected.status} ${expected.type}`, () => {
      assert.deepEqual(seen(status, azureError(status, json({ error: { message: 'm', type: null, code } }))), expected);
    });
  }
});

describe('OpenAI-compatible servers: a non-OpenAI error shape gets a type by status', () => {
  const TABLE: Array<[number, string]> = [
    [400, 'invalid_request_error'],
    [404, 'invalid_request_error'],
    [429, 'invalid_request_error'],
    [500, 'server_error'],
    [503, 'server_error'],
  ];
  for (const [status, type] of TABLE) {
    test(`${status} → ${type}`, () => {
      const body = normaliseErrorBody(status, json({ detail: 'm' }));
      assert.ok(body);
      assert.deepEqual(seen(status, { body, usage: undefined }), { status, type, code: null });
    });
  }
});
