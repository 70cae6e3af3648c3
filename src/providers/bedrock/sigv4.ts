// AWS Signature Version 4 for one Bedrock request, synchronous and pure (the clock is an input).
//
// Why not `SignatureV4.sign()` from @smithy/signature-v4: it is async (its hashes resolve promises) and
// Provider.buildRequest is synchronous. So the canonical pieces come from smithy (HttpRequest, canonical
// headers and query, credential scope) and the HMAC chain is node:crypto's synchronous HMAC-SHA256 — the same
// primitive @smithy/hash-node wraps. sigv4.test.ts checks the result against smithy's own async signer and
// against the specification's steps computed independently.
import { createHash, createHmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { createScope, getCanonicalHeaders, getCanonicalQuery } from '@smithy/signature-v4';

const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface SignableRequest {
  readonly method: string;
  /** The Host header the upstream will see (Envoy's auto_host_rewrite puts the endpoint's hostname there). */
  readonly host: string;
  /** The path as sent on the wire: already percent-encoded once, optionally with a query. */
  readonly path: string;
  /** Headers to send, lower-case names, without host. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface SigningParams {
  readonly credentials: AwsCredentials;
  readonly region: string;
  /** Signing name, e.g. `bedrock` (not the endpoint prefix `bedrock-runtime`). */
  readonly service: string;
  readonly now: Date;
}

export interface SignedRequest {
  /** Every header to send (the input's plus x-amz-date, x-amz-content-sha256, x-amz-security-token, authorization). */
  readonly headers: Record<string, string>;
  /** Exposed for tests and debugging; contains no secret. */
  readonly canonicalRequest: string;
  readonly stringToSign: string;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 percent-encoding: everything but unreserved characters. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** 20150830T123600Z */
export function amzDate(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/**
 * Every service but S3 encodes each path segment AGAIN for the canonical URI, so a model id sent as
 * `anthropic.claude-v2%3A1` is signed as `anthropic.claude-v2%253A1`. Segments are normalised as RFC 3986 says.
 */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEncode(segment));
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.join('/')}${trailing}`;
}

function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(search)) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

/** Host, content-type and every x-amz-* header are signed; other headers may be changed by proxies on the way. */
function isSigned(name: string): boolean {
  return name === 'host' || name === 'content-type' || name.startsWith('x-amz-');
}

export function signRequest(request: SignableRequest, params: SigningParams): SignedRequest {
  const longDate = amzDate(params.now);
  const shortDate = longDate.slice(0, 8);
  const payloadHash = sha256Hex(request.body);
  const headers: Record<string, string> = {
    ...request.headers,
    'x-amz-date': longDate,
    'x-amz-content-sha256': payloadHash,
  };
  if (params.credentials.sessionToken) headers['x-amz-security-token'] = params.credentials.sessionToken;

  const queryStart = request.path.indexOf('?');
  const path = queryStart === -1 ? request.path : request.path.slice(0, queryStart);
  const toSign = Object.fromEntries(
    Object.entries({ host: request.host, ...headers }).filter(([name]) => isSigned(name)),
  );
  const smithyRequest = new HttpRequest({
    method: request.method,
    hostname: request.host,
    path,
    query: queryStart === -1 ? {} : parseQuery(request.path.slice(queryStart + 1)),
    headers: toSign,
  });
  const canonicalHeaders = getCanonicalHeaders(smithyRequest);
  const names = Object.keys(canonicalHeaders).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    request.method,
    canonicalUri(path),
    getCanonicalQuery(smithyRequest),
    ...names.map((name) => `${name}:${canonicalHeaders[name] ?? ''}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');

  const scope = createScope(shortDate, params.region, params.service);
  const stringToSign = [ALGORITHM, longDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${params.credentials.secretAccessKey}`, shortDate);
  for (const part of [params.region, params.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');

  headers.authorization = `${ALGORITHM} Credential=${params.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers, canonicalRequest, stringToSign };
}
