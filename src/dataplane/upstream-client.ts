// The upstream codec: one HTTP/1.1 request to the chosen endpoint (node:http / node:https), the response as
// headers plus a body stream. Failures before response headers are classified the way Envoy names reset
// reasons, because the router retries on them (retry_on connect-failure, reset).
import * as http from 'node:http';
import * as https from 'node:https';
import { fromRawHeaders, setHeader, toNodeHeaders, type HeaderList } from './headers.js';

export interface UpstreamRequest {
  /** The connection pool (Envoy keeps one per cluster): the route's cluster name. */
  readonly pool: string;
  /** scheme://host:port of the backend (backend.baseUrl). */
  readonly origin: URL;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  /** Request headers as the filters left them (pseudo-headers are dropped here). */
  readonly headers: HeaderList;
  readonly body: Buffer;
}

export type ResetReason = 'connection_failure' | 'connection_termination' | 'remote_reset';

export type UpstreamResult =
  | {
      readonly kind: 'response';
      /** Response headers including ":status". */
      readonly headers: HeaderList;
      /** True when no body follows (HEAD, 1xx/204/304, content-length 0). */
      readonly endOfStream: boolean;
      readonly body: AsyncIterable<Buffer>;
      /** True once the whole body has arrived and been read: the chunk just read was the last one. */
      complete(): boolean;
      abort(): void;
    }
  | { readonly kind: 'failure'; readonly reason: ResetReason; readonly message: string };

/**
 * Thrown by a response body stream that ends abnormally (upstream reset after headers). Envoy's HTTP/1.1 codec
 * reads a connection that closes mid-body as a protocol error (502, flag UPE; parity/routing.test.ts).
 */
export class UpstreamResetError extends Error {
  override readonly name = 'UpstreamResetError';
  readonly reason = 'protocol_error';
}

const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
]);

/** Methods whose requests normally carry no body, so an empty one needs no content-length. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

async function* bodyOf(response: http.IncomingMessage): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of response) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
  } catch (error) {
    throw new UpstreamResetError(
      `upstream reset during the response body: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!response.complete)
    throw new UpstreamResetError('upstream closed the connection before the response body was complete');
}

function connectionOptions(origin: URL): { hostname: string; port: number; servername?: string } {
  const secure = origin.protocol === 'https:';
  return {
    hostname: origin.hostname.replace(/^\[|\]$/g, ''),
    port: origin.port === '' ? (secure ? 443 : 80) : Number(origin.port),
    ...(secure ? { servername: origin.hostname } : {}),
  };
}

export class UpstreamClient {
  /** Keep-alive connection pools, one per cluster and scheme. */
  private readonly agents = new Map<string, http.Agent>();

  private agent(pool: string, secure: boolean): http.Agent {
    const key = `${secure ? 'https' : 'http'} ${pool}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Whether the pool holds an idle connection to `origin`, i.e. a request to it would have a connection at once. */
  hasIdleConnection(pool: string, origin: URL): boolean {
    const agent = this.agents.get(`${origin.protocol === 'https:' ? 'https' : 'http'} ${pool}`);
    if (agent === undefined) return false;
    const name = agent.getName({ host: connectionOptions(origin).hostname, ...connectionOptions(origin) });
    return (agent.freeSockets[name]?.length ?? 0) > 0;
  }

  send(
    request: UpstreamRequest,
    onWarning: (what: string) => void = () => {},
  ): { result: Promise<UpstreamResult>; abort(): void } {
    const secure = request.origin.protocol === 'https:';
    const headers: HeaderList = [
      ['host', request.authority],
      ...request.headers.filter(([k]) => !k.startsWith(':') && k !== 'host'),
    ];
    const declared = headers.find(([k]) => k === 'content-length')?.[1];
    if (declared !== undefined && declared !== String(request.body.length)) {
      onWarning(
        `content-length ${declared} does not match the ${request.body.length}-byte body sent upstream: corrected on the wire`,
      );
    }
    // A declared length is kept (corrected if wrong); a body without one goes chunked, as Envoy's codec sends it.
    // (node only chunks methods that normally carry a body; a GET with a body keeps a content-length.)
    const chunked = declared === undefined && request.body.length > 0 && !BODYLESS_METHODS.has(request.method);
    if (!chunked && (request.body.length > 0 || declared !== undefined || !BODYLESS_METHODS.has(request.method))) {
      setHeader(headers, 'content-length', String(request.body.length));
    }
    const options: https.RequestOptions = {
      protocol: request.origin.protocol,
      ...connectionOptions(request.origin),
      method: request.method,
      path: request.path,
      headers: toNodeHeaders(headers),
      agent: this.agent(request.pool, secure),
    };
    const outgoing = (secure ? https : http).request(options);
    let incoming: http.IncomingMessage | undefined;
    const abort = (): void => {
      // A response that has fully arrived leaves its connection in the pool, as Envoy's does; else it is reset.
      if (incoming?.complete === true) {
        incoming.resume();
        return;
      }
      incoming?.destroy();
      outgoing.destroy();
    };
    const result = new Promise<UpstreamResult>((resolve) => {
      outgoing.on('response', (response) => {
        incoming = response;
        // Errors reach whoever reads the body; without this listener a reset nobody reads would crash the process.
        response.on('error', () => {});
        const status = response.statusCode ?? 0;
        const length = response.headers['content-length'];
        const endOfStream =
          request.method === 'HEAD' ||
          status === 204 ||
          status === 304 ||
          (status >= 100 && status < 200) ||
          length === '0';
        if (endOfStream) response.resume();
        resolve({
          kind: 'response',
          headers: [[':status', String(status)], ...fromRawHeaders(response.rawHeaders)],
          endOfStream,
          body: endOfStream ? (async function* () {})() : bodyOf(response),
          complete: () => endOfStream || (response.complete && response.readableLength === 0),
          abort,
        });
      });
      outgoing.on('error', (error) => {
        if (incoming !== undefined) return;
        const code = errorCode(error);
        const reason: ResetReason =
          code !== undefined && CONNECT_ERRORS.has(code) ? 'connection_failure' : 'connection_termination';
        resolve({ kind: 'failure', reason, message: error.message });
      });
    });
    if (chunked) {
      // Written before the headers go out and without a length: node frames it with transfer-encoding chunked.
      outgoing.write(request.body);
      outgoing.end();
    } else {
      outgoing.end(request.body);
    }
    return { result, abort };
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
