// The provider as the stages use it: endpoint paths, SigV4 or API-key auth, stream detection, request checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTopology } from '../../config/topology.js';
import { configFromYaml } from '../../testing/config.js';
import { parseChatRequest } from '../../unified/chat-request.js';
import { UnifiedError } from '../../unified/errors.js';
import { bedrockProvider } from './index.js';
import { conversePath } from './request.js';
import { attemptCredentials } from '../../credentials/index.js';

const topology = resolveTopology(
  configFromYaml(`
backends:
  - { name: aws, provider: bedrock, region: us-east-1 }
  - { name: keyed, provider: bedrock, region: eu-west-3, apiKeyEnv: BEDROCK_KEY, headers: { x-tenant: team-a } }
  - name: proxied
    provider: bedrock
    region: us-west-2
    baseUrl: https://proxy.example.com/bedrock
    accessKeyIdEnv: PROXY_AKID
    secretAccessKeyEnv: PROXY_SECRET
    sessionTokenEnv: PROXY_TOKEN_UNSET
    headers: { x-amz-bedrock-trace: ENABLED }
routes:
  - model: claude
    backends: [{ backend: aws, model: "anthropic.claude-3-haiku-20240307-v1:0" }, { backend: keyed }, { backend: proxied }]
`),
  {
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: 'session-token',
    BEDROCK_KEY: 'bedrock-api-key-123',
    PROXY_AKID: 'AKIDPROXY',
    PROXY_SECRET: 'proxy-secret',
  },
);
const aws = topology.backends.get('aws')!;
const keyed = topology.backends.get('keyed')!;
const proxied = topology.backends.get('proxied')!;
const NOW = new Date('2024-05-01T12:34:56Z');
const request = (extra: Record<string, unknown> = {}) =>
  parseChatRequest(JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'hi' }], ...extra }));

test('the model id is one percent-encoded path segment of /model/{id}/converse', () => {
  const out = bedrockProvider.buildRequest(request(), {
    backend: aws,
    upstreamModel: 'anthropic.claude-3-haiku-20240307-v1:0',
    now: NOW,
    credentials: attemptCredentials(aws),
  });
  assert.equal(out.path, '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
  assert.deepEqual(JSON.parse(out.body.toString()), { messages: [{ role: 'user', content: [{ text: 'hi' }] }] });
});

test('streaming requests go to converse-stream; ARNs keep their slash inside the segment', () => {
  const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
  const out = bedrockProvider.buildRequest(request({ stream: true }), {
    backend: aws,
    upstreamModel: arn,
    now: NOW,
    credentials: attemptCredentials(aws),
  });
  assert.equal(
    out.path,
    '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream',
  );
  assert.equal(JSON.parse(out.body.toString()).stream, undefined, 'the endpoint, not a body field, selects streaming');
});

test('a base URL path prefix is kept', () => {
  assert.equal(
    conversePath(new URL('https://proxy.example.com/bedrock/'), 'm:1', false),
    '/bedrock/model/m%3A1/converse',
  );
});

test('AWS credentials sign the request with SigV4 for the `bedrock` signing name at target.now', () => {
  const out = bedrockProvider.buildRequest(request(), {
    backend: aws,
    upstreamModel: 'm',
    now: NOW,
    credentials: attemptCredentials(aws),
  });
  assert.equal(out.headers['content-type'], 'application/json');
  assert.equal(out.headers['x-amz-date'], '20240501T123456Z');
  assert.equal(out.headers['x-amz-security-token'], 'session-token');
  assert.match(
    out.headers.authorization ?? '',
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240501\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
  );
  const again = bedrockProvider.buildRequest(request(), {
    backend: aws,
    upstreamModel: 'm',
    now: NOW,
    credentials: attemptCredentials(aws),
  });
  assert.deepEqual(again.headers, out.headers, 'signing is pure: same input, same headers');
});

test('static x-amz-* headers from the config are sent and signed; the region is the backend’s', () => {
  const out = bedrockProvider.buildRequest(request(), {
    backend: proxied,
    upstreamModel: 'm',
    now: NOW,
    credentials: attemptCredentials(proxied),
  });
  assert.equal(out.headers['x-amz-bedrock-trace'], 'ENABLED');
  assert.equal(out.headers['x-amz-security-token'], undefined);
  assert.match(
    out.headers.authorization ?? '',
    /Credential=AKIDPROXY\/20240501\/us-west-2\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-bedrock-trace;x-amz-content-sha256;x-amz-date,/,
  );
});

test('a Bedrock API key is sent as a bearer token instead of SigV4', () => {
  const out = bedrockProvider.buildRequest(request(), {
    backend: keyed,
    upstreamModel: 'm',
    now: NOW,
    credentials: attemptCredentials(keyed),
  });
  assert.equal(out.headers.authorization, 'Bearer bedrock-api-key-123');
  assert.equal(out.headers['x-tenant'], 'team-a');
  assert.equal(out.headers['x-amz-date'], undefined);
  assert.equal(out.headers['content-type'], 'application/json');
});

test('the binary event stream is recognised as a stream; JSON is not', () => {
  assert.equal(bedrockProvider.isStream('application/vnd.amazon.eventstream'), true);
  assert.equal(bedrockProvider.isStream('application/vnd.amazon.eventstream; charset=utf-8'), true);
  assert.equal(bedrockProvider.isStream('application/json'), false);
  assert.equal(bedrockProvider.isStream('text/event-stream'), false);
});

test('checkRequest refuses what buildRequest cannot honour, with a 400 naming the field', () => {
  assert.throws(
    () => bedrockProvider.checkRequest(request({ n: 3 }), aws),
    (err: unknown) => err instanceof UnifiedError && err.status === 400 && err.param === 'n',
  );
  assert.doesNotThrow(() => bedrockProvider.checkRequest(request({ temperature: 0.5 }), aws));
});
