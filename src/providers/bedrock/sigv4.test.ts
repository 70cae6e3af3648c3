// SigV4: checked (1) against the specification's steps computed here independently with node:crypto for one
// fixed input, with the canonical request written out literally, and (2) against @smithy/signature-v4's own
// asynchronous signer (with @smithy/hash-node) for a range of inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { amzDate, canonicalUri, signRequest, uriEncode, type AwsCredentials } from './sigv4.js';

const CREDENTIALS: AwsCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN//session',
};
const HOST = 'bedrock-runtime.us-east-1.amazonaws.com';
const NOW = new Date('2024-05-01T12:34:56.789Z');
const BODY = Buffer.from('{"messages":[{"role":"user","content":[{"text":"hi"}]}]}');

test('the model id is signed double-encoded: %3A on the wire, %253A in the canonical request (spec steps)', () => {
  const path = '/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse';
  const signed = signRequest(
    { method: 'POST', host: HOST, path, headers: { 'content-type': 'application/json' }, body: BODY },
    { credentials: CREDENTIALS, region: 'us-east-1', service: 'bedrock', now: NOW },
  );

  // Task 1: the canonical request.
  const payloadHash = createHash('sha256').update(BODY).digest('hex');
  const expectedCanonical = [
    'POST',
    '/model/us.anthropic.claude-3-5-sonnet-20241022-v2%253A0/converse',
    '',
    'content-type:application/json',
    `host:${HOST}`,
    `x-amz-content-sha256:${payloadHash}`,
    'x-amz-date:20240501T123456Z',
    'x-amz-security-token:FwoGZXIvYXdzEXAMPLETOKEN//session',
    '',
    'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token',
    payloadHash,
  ].join('\n');
  assert.equal(signed.canonicalRequest, expectedCanonical);

  // Task 2: the string to sign.
  const scope = '20240501/us-east-1/bedrock/aws4_request';
  const expectedStringToSign = `AWS4-HMAC-SHA256\n20240501T123456Z\n${scope}\n${createHash('sha256').update(expectedCanonical).digest('hex')}`;
  assert.equal(signed.stringToSign, expectedStringToSign);

  // Task 3: the signing key and the signature.
  const kDate = createHmac('sha256', `AWS4${CREDENTIALS.secretAccessKey}`).update('20240501').digest();
  const kRegion = createHmac('sha256', kDate).update('us-east-1').digest();
  const kService = createHmac('sha256', kRegion).update('bedrock').digest();
  const kSigning = createHmac('sha256', kService).update('aws4_request').digest();
  const signature = createHmac('sha256', kSigning).update(expectedStringToSign).digest('hex');

  // Task 4: the Authorization header, plus the headers that were signed.
  assert.equal(
    signed.headers.authorization,
    `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=${signature}`,
  );
  assert.equal(signed.headers['x-amz-date'], '20240501T123456Z');
  assert.equal(signed.headers['x-amz-content-sha256'], payloadHash);
  assert.equal(signed.headers['x-amz-security-token'], CREDENTIALS.sessionToken);
  assert.equal(signed.headers['content-type'], 'application/json');
  assert.equal(signed.headers.host, undefined, 'Envoy sets the Host header; the signer only signs it');
});

test('without a session token there is no x-amz-security-token, signed or sent', () => {
  const { accessKeyId, secretAccessKey } = CREDENTIALS;
  const signed = signRequest(
    {
      method: 'POST',
      host: HOST,
      path: '/model/m/converse',
      headers: { 'content-type': 'application/json' },
      body: BODY,
    },
    { credentials: { accessKeyId, secretAccessKey }, region: 'us-east-1', service: 'bedrock', now: NOW },
  );
  assert.equal(signed.headers['x-amz-security-token'], undefined);
  assert.match(signed.headers.authorization ?? '', /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,/);
});

test('only host, content-type and x-amz-* headers are signed (proxies may change the others)', () => {
  const signed = signRequest(
    {
      method: 'POST',
      host: HOST,
      path: '/model/m/converse',
      headers: { 'content-type': 'application/json', 'x-team': 'a', 'x-amz-trace': 'Root=1' },
      body: BODY,
    },
    { credentials: CREDENTIALS, region: 'us-east-1', service: 'bedrock', now: NOW },
  );
  assert.match(
    signed.headers.authorization ?? '',
    /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-trace,/,
  );
  assert.equal(signed.headers['x-team'], 'a');
});

test('helpers: RFC 3986 encoding, canonical URI normalisation and the date format', () => {
  assert.equal(uriEncode("a:b/c d!'()*~._-"), 'a%3Ab%2Fc%20d%21%27%28%29%2A~._-');
  assert.equal(
    canonicalUri('/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fx/converse'),
    '/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123%253Ainference-profile%252Fx/converse',
  );
  assert.equal(canonicalUri('/a//b/./c/../d/'), '/a/b/d/');
  assert.equal(amzDate(new Date('2015-08-30T12:36:00Z')), '20150830T123600Z');
});

// ── Agreement with @smithy/signature-v4 ─────────────────────────────────────────────────────────────────────

interface Case {
  readonly name: string;
  readonly host: string;
  readonly path: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

const CASES: Case[] = [
  {
    name: 'model id with a version colon',
    host: HOST,
    path: '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    region: 'us-east-1',
    credentials: CREDENTIALS,
    headers: { 'content-type': 'application/json' },
    body: BODY,
  },
  {
    name: 'inference-profile ARN (colons and a slash), streaming, no session token',
    host: 'bedrock-runtime.eu-west-3.amazonaws.com',
    path: `/model/${uriEncode('arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0')}/converse-stream`,
    region: 'eu-west-3',
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY' },
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"messages":[{"role":"user","content":[{"text":"Grüße ✓"}]}]}'),
  },
  {
    name: 'non-default port, path prefix and a query string',
    host: '127.0.0.1:8443',
    path: '/bedrock/model/amazon.nova-pro-v1%3A0/converse?tenant=team%20a&b=2&a=1',
    region: 'ap-southeast-2',
    credentials: CREDENTIALS,
    headers: { 'content-type': 'application/json', 'x-amz-bedrock-trace': 'ENABLED' },
    body: Buffer.from('{}'),
  },
];

async function smithySignature(c: Case): Promise<string | undefined> {
  const queryStart = c.path.indexOf('?');
  const query: Record<string, string> = {};
  if (queryStart !== -1) for (const [k, v] of new URLSearchParams(c.path.slice(queryStart + 1))) query[k] = v;
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'https:',
    hostname: c.host,
    path: queryStart === -1 ? c.path : c.path.slice(0, queryStart),
    query,
    headers: { host: c.host, ...c.headers },
    body: c.body,
  });
  const signer = new SignatureV4({
    service: 'bedrock',
    region: c.region,
    credentials: c.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(request, { signingDate: NOW });
  return signed.headers.authorization;
}

for (const c of CASES) {
  test(`agrees with @smithy/signature-v4: ${c.name}`, async () => {
    const ours = signRequest(
      { method: 'POST', host: c.host, path: c.path, headers: c.headers, body: c.body },
      { credentials: c.credentials, region: c.region, service: 'bedrock', now: NOW },
    );
    assert.equal(ours.headers.authorization, await smithySignature(c));
  });
}
