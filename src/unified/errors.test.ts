// The errors the gateway writes itself: each kind's status, OpenAI type and code (a table, one row a test), the
// request id every message carries, and the one reply shape errors and budget refusals share.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asUnifiedError,
  errorReply,
  UnifiedError,
  withRequestId,
  withRequestIdInJson,
  type UnifiedErrorKind,
} from './errors.js';

describe('UnifiedError kinds', () => {
  // By what the client sees: status and type, then each kind with its code. Client faults are 4xx
  // invalid_request_error; the gateway's and the providers' are 5xx server_error.
  type Row = readonly [status: number, type: string, codes: Partial<Record<UnifiedErrorKind, string>>, why: string];
  const TABLE: readonly Row[] = [
    [
      400,
      'invalid_request_error',
      { invalid_json: 'invalid_json', invalid_request: 'invalid_value' },
      'the request cannot be used',
    ],
    [
      404,
      'invalid_request_error',
      { unknown_endpoint: 'unknown_url', model_not_found: 'model_not_found' },
      'no such endpoint or model',
    ],
    [413, 'invalid_request_error', { request_too_large: 'request_too_large' }, 'over the body limit'],
    [500, 'server_error', { internal: 'internal_error' }, 'a gateway bug; the detail stays in the logs'],
    [
      502,
      'server_error',
      {
        upstream_error: 'upstream_error',
        upstream_auth: 'upstream_authentication_failed',
        upstream_invalid_response: 'upstream_invalid_response',
      },
      'the provider failed, rejected the gateway’s own key, or answered a 2xx that cannot be read',
    ],
    [503, 'server_error', { no_backend: 'no_backend_available' }, 'no usable backend for the model'],
  ];
  for (const [status, type, codes, why] of TABLE) {
    test(`${status} ${type}: ${Object.keys(codes).join(', ')} (${why})`, () => {
      for (const [kind, code] of Object.entries(codes) as Array<[UnifiedErrorKind, string]>) {
        const error = new UnifiedError(kind, 'm');
        assert.deepEqual(
          error.toReply(),
          { status, headers: {}, body: { error: { message: 'm', type, param: null, code } } },
          kind,
        );
      }
    });
  }
  test('every kind is in the table once', () => {
    const kinds = TABLE.flatMap(([, , codes]) => Object.keys(codes));
    const all: Record<UnifiedErrorKind, true> = {
      invalid_json: true,
      invalid_request: true,
      unknown_endpoint: true,
      model_not_found: true,
      request_too_large: true,
      no_backend: true,
      upstream_error: true,
      upstream_auth: true,
      upstream_invalid_response: true,
      internal: true,
    };
    assert.deepEqual([...kinds].sort(), Object.keys(all).sort());
  });
  test('a status given explicitly wins over the kind’s (an upstream status passed on)', () => {
    assert.equal(new UnifiedError('upstream_error', 'm', null, 504).status, 504);
  });
});

describe('error bodies', () => {
  test('every message names the request id when there is one', () => {
    const error = new UnifiedError('model_not_found', "The model 'x' does not exist.", 'model');
    assert.deepEqual(error.toBody('req-1'), {
      error: {
        message: "The model 'x' does not exist. (request id: req-1)",
        type: 'invalid_request_error',
        param: 'model',
        code: 'model_not_found',
      },
    });
    assert.equal(error.toBody(undefined).error.message, "The model 'x' does not exist.");
    assert.equal(
      withRequestId(error.toBody(undefined), 'req-2').error.message,
      "The model 'x' does not exist. (request id: req-2)",
    );
  });

  test('withRequestIdInJson: a parsed OpenAI error names the request once; anything else is left alone', () => {
    const error = { error: { message: 'Overloaded.', type: 'server_error', code: null }, extra: 1 };
    assert.deepEqual(withRequestIdInJson(error, 'req-3'), {
      error: { message: 'Overloaded. (request id: req-3)', type: 'server_error', code: null },
      extra: 1,
    });
    assert.equal(error.error.message, 'Overloaded.', 'the input is not changed');
    for (const [name, json] of [
      ['already named', { error: { message: 'Overloaded. (request id: req-3)' } }],
      ['message not a string', { error: { message: 42 } }],
      ['no error object', { error: 'Overloaded.' }],
      ['not an object', ['error']],
      ['null', null],
    ] as const)
      assert.equal(withRequestIdInJson(json, 'req-3'), undefined, name);
  });

  test('errorReply: a budget refusal in the same shape, with its headers', () => {
    assert.deepEqual(errorReply(429, 'requests', 'rate_limit_exceeded', 'Slow down.', { 'retry-after': '3' }), {
      status: 429,
      headers: { 'retry-after': '3' },
      body: { error: { message: 'Slow down.', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    });
  });

  test('anything thrown that is not a UnifiedError is an internal error whose message stays in the logs', () => {
    const error = asUnifiedError(new Error('secret detail'));
    assert.equal(error.kind, 'internal');
    assert.ok(!error.message.includes('secret detail'));
    const known = new UnifiedError('invalid_json', 'bad');
    assert.equal(asUnifiedError(known), known);
  });
});
