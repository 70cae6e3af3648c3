// A mock Bedrock Runtime for end-to-end tests: speaks only Converse (JSON) and ConverseStream (binary event
// stream), and checks what the real service checks: the /model/{modelId}/{operation} path with the model id as
// one encoded segment, and the caller's identity — a Bedrock API key as a bearer token, or a SigV4 signature it
// verifies itself, with its own implementation of the specification (not the gateway's signer).
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback } from '../../src/testing/http.js';
import { isRecord } from '../../src/util/json.js';
import {
  encodeEvents,
  JSON_EVENTS,
  JSON_RESPONSE,
  TEXT_EVENTS,
  TEXT_RESPONSE,
  TOOL_EVENTS,
  TOOL_RESPONSE,
  type ConverseResponseWire,
  type StreamEvent,
} from '../../src/providers/bedrock/fixtures.js';

export interface MockCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface BedrockCall {
  /** The path exactly as received (still percent-encoded). */
  readonly rawPath: string;
  readonly modelId: string;
  readonly operation: 'converse' | 'converse-stream';
  readonly auth: 'sigv4' | 'api-key';
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export type MockReply =
  | { readonly kind: 'json'; readonly body: ConverseResponseWire }
  | { readonly kind: 'stream'; readonly events: readonly StreamEvent[] }
  | { readonly kind: 'error'; readonly status: number; readonly errorType: string; readonly message: string };

export interface MockBedrock {
  readonly baseUrl: string;
  readonly received: BedrockCall[];
  /** Requests refused before reaching a model (auth, path, body), with the reason. */
  readonly refused: string[];
  /** Overrides the default answers (text; tool calls when tools are offered; JSON for the json_response tool). */
  reply: ((call: BedrockCall) => MockReply) | undefined;
  close(): Promise<void>;
}

export interface MockBedrockOptions {
  readonly region: string;
  readonly credentials: MockCredentials;
  readonly apiKey: string;
}

// ── SigV4 verification, written from the specification ────────────────────────────────────────────────────

const rfc3986 = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** Returns why the signature is not acceptable, or undefined when it is. */
export function verifySigV4(
  method: string,
  rawUrl: string,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
  credentials: MockCredentials,
  region: string,
  now: Date = new Date(),
): string | undefined {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      String(headers.authorization),
    );
  if (!match) return 'malformed Authorization header';
  const [, accessKeyId, date = '', scopeRegion, service, signedHeaders = '', signature] = match;
  if (accessKeyId !== credentials.accessKeyId) return 'The security token included in the request is invalid.';
  if (scopeRegion !== region) return `Credential should be scoped to a valid region, not '${scopeRegion}'.`;
  if (service !== 'bedrock') return `Credential should be scoped to correct service: 'bedrock', not '${service}'.`;
  const amzDate = String(headers['x-amz-date'] ?? '');
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(signedAt) || Math.abs(now.getTime() - signedAt) > 5 * 60_000 || !amzDate.startsWith(date))
    return 'Signature expired or x-amz-date invalid.';
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed.';
  if (
    credentials.sessionToken &&
    (headers['x-amz-security-token'] !== credentials.sessionToken || !names.includes('x-amz-security-token'))
  ) {
    return 'The security token included in the request is invalid.';
  }
  const payloadHash = sha256(body);
  const declared = headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== payloadHash)
    return 'The provided x-amz-content-sha256 header does not match what was computed.';

  const [path = '', query = ''] = rawUrl.split('?');
  // Non-S3 services encode the (already encoded) path segments once more.
  const canonicalUri = path.split('/').map(rfc3986).join('/');
  const canonicalQuery = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) =>
      pair
        .split('=')
        .map((part) => rfc3986(decodeURIComponent(part)))
        .join('='),
    )
    .sort()
    .join('&');
  const canonicalHeaders = names
    .map(
      (name) =>
        `${name}:${String(headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalRequest = [method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join(
    '\n',
  );
  const scope = `${date}/${region}/bedrock/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${credentials.secretAccessKey}`, date);
  for (const part of [region, 'bedrock', 'aws4_request']) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  return expected === signature
    ? undefined
    : 'The request signature we calculated does not match the signature you provided.';
}

// ── Answers ─────────────────────────────────────────────────────────────────────────────────────────────────

function defaultReply(call: BedrockCall): MockReply {
  const stream = call.operation === 'converse-stream';
  const toolConfig = isRecord(call.body.toolConfig) ? call.body.toolConfig : undefined;
  const choice = isRecord(toolConfig?.toolChoice) ? toolConfig.toolChoice : undefined;
  const forcedJson = isRecord(choice?.tool) && choice.tool.name === 'json_response';
  const messages = Array.isArray(call.body.messages) ? call.body.messages : [];
  const last: unknown = messages.at(-1);
  const answersToolResults =
    isRecord(last) &&
    Array.isArray(last.content) &&
    last.content.some((block) => isRecord(block) && 'toolResult' in block);
  if (forcedJson) return stream ? { kind: 'stream', events: JSON_EVENTS } : { kind: 'json', body: JSON_RESPONSE };
  if (toolConfig && !answersToolResults)
    return stream ? { kind: 'stream', events: TOOL_EVENTS } : { kind: 'json', body: TOOL_RESPONSE };
  return stream ? { kind: 'stream', events: TEXT_EVENTS } : { kind: 'json', body: TEXT_RESPONSE };
}

function sendError(res: http.ServerResponse, status: number, errorType: string, message: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': 'mock-request-id',
  });
  res.end(JSON.stringify({ message }));
}

/** Writes each event-stream message in two pieces, so the gateway sees messages cut across chunks. */
function sendStream(res: http.ServerResponse, events: readonly StreamEvent[]): void {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'mock-request-id' });
  const pieces = encodeEvents(events).flatMap((message) => [message.subarray(0, 7), message.subarray(7)]);
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i >= pieces.length) return void res.end();
    res.write(pieces[i++]);
    setImmediate(next);
  };
  next();
}

export async function startMockBedrock(options: MockBedrockOptions): Promise<MockBedrock> {
  const received: BedrockCall[] = [];
  const refused: string[] = [];
  const state: { reply: ((call: BedrockCall) => MockReply) | undefined } = { reply: undefined };

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(parts);
      const refuse = (status: number, errorType: string, message: string) => {
        refused.push(message);
        sendError(res, status, errorType, message);
      };
      const url = req.url ?? '';
      const route = /^\/model\/([^/?]+)\/(converse|converse-stream)$/.exec(url);
      if (req.method !== 'POST' || !route)
        return refuse(404, 'UnknownOperationException', `no operation at ${req.method} ${url}`);

      const authorization = String(req.headers.authorization ?? '');
      let auth: BedrockCall['auth'];
      if (authorization.startsWith('Bearer ')) {
        if (authorization !== `Bearer ${options.apiKey}`)
          return refuse(403, 'AccessDeniedException', 'Authentication failed: Please make sure your API Key is valid.');
        auth = 'api-key';
      } else if (authorization.startsWith('AWS4-HMAC-SHA256 ')) {
        const problem = verifySigV4(req.method, url, req.headers, raw, options.credentials, options.region);
        if (problem) return refuse(403, 'InvalidSignatureException', problem);
        auth = 'sigv4';
      } else {
        return refuse(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
      }

      if (!String(req.headers['content-type']).startsWith('application/json'))
        return refuse(400, 'ValidationException', 'content-type must be application/json');
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return refuse(400, 'ValidationException', 'The request body is not valid JSON.');
      }
      if (!isRecord(body) || !Array.isArray(body.messages) || 'modelId' in body) {
        return refuse(
          400,
          'ValidationException',
          'Malformed input request: messages is required and modelId belongs in the path.',
        );
      }
      // Converse rejects blank text blocks (in messages and in system).
      const blank = blankTextAt(body);
      if (blank)
        return refuse(
          400,
          'ValidationException',
          `The text field in the ContentBlock object at ${blank} is blank. Add text to the text field, and try again.`,
        );

      const call: BedrockCall = {
        rawPath: url,
        modelId: decodeURIComponent(route[1] ?? ''),
        operation: route[2] === 'converse' ? 'converse' : 'converse-stream',
        auth,
        headers: req.headers,
        body,
      };
      received.push(call);
      const reply = (state.reply ?? defaultReply)(call);
      if (reply.kind === 'error') return sendError(res, reply.status, reply.errorType, reply.message);
      if (reply.kind === 'stream') return sendStream(res, reply.events);
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'mock-request-id' });
      res.end(JSON.stringify(reply.body));
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    received,
    refused,
    get reply() {
      return state.reply;
    },
    set reply(value) {
      state.reply = value;
    },
    close,
  };
}

/** Where the first blank `text` block is (`messages.0.content.1`, `system.0`), as Converse names it. */
function blankTextAt(body: Record<string, unknown>): string | undefined {
  const blank = (block: unknown) => isRecord(block) && typeof block.text === 'string' && block.text.trim() === '';
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const [i, message] of messages.entries()) {
    const content = isRecord(message) && Array.isArray(message.content) ? message.content : [];
    const j = content.findIndex(blank);
    if (j !== -1) return `messages.${i}.content.${j}`;
  }
  const system = Array.isArray(body.system) ? body.system : [];
  const k = system.findIndex(blank);
  return k === -1 ? undefined : `system.${k}`;
}
