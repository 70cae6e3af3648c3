// The local data plane: an HTTP/1.1 listener that handles each request the way Envoy's HTTP connection manager
// does with the filter chain of envoy/envoy.yaml — router-level ext_proc stage, route table, router with the
// upstream ext_proc stage per attempt. A development stand-in only: production is Envoy.
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { REQUEST_ID_HEADER, METADATA_NAMESPACE } from '../extproc/contract.js';
import type { Topology } from '../config/topology.js';
import type { ExternalProcessorClient } from '../generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import { ExtProcFilter, processRequestBody, type FilterEventLog, type HttpMessage } from './ext-proc-filter.js';
import { createExtProcClient, ProcessStream } from './extproc-client.js';
import { ROUTER_FILTER_SPEC, UPSTREAM_FILTER_SPEC, type FilterSpec } from './filters.js';
import {
  fromRawHeaders,
  getHeader,
  hasHeader,
  incomingHasBody,
  setHeader,
  toNodeHeaders,
  type HeaderList,
} from './headers.js';
import { Interrupted, Interrupter } from './interrupt.js';
import { LOCAL_REPLIES, localReplyHeaders, type LocalReply } from './local-reply.js';
import { metadataToJson, type DynamicMetadata } from './metadata.js';
import type { JsonObject } from '../util/json.js';
import { forward, localSource, type AttemptLogEntry, type ResponseSource } from './router.js';
import { selectRoute } from './routing.js';
import { UpstreamClient, UpstreamResetError } from './upstream-client.js';

export interface DataPlaneSettings {
  bufferLimitBytes: number;
  numRetries: number;
  retriableStatusCodes: number[];
  messageTimeoutMs: number;
  routeTimeoutMs: number;
}

export interface AttemptAccessLog {
  readonly backend: string;
  readonly host: string;
  readonly priority: number;
  readonly outcome: string;
}

export interface AccessLogEntry {
  readonly startTime: string;
  readonly requestId: string;
  readonly method: string;
  /** The path the client sent. */
  readonly path: string;
  readonly authority: string;
  /** The cluster the request was routed to, or undefined for the catch-all direct response. */
  readonly route: string | undefined;
  /** 0 when the client went away before a response started. */
  readonly responseCode: number;
  /** %RESPONSE_CODE_DETAILS%: via_upstream, a local reply's reason, or an immediate_response's details. */
  readonly responseCodeDetails: string;
  readonly upstreamBackend: string | undefined;
  readonly upstreamHost: string | undefined;
  readonly attempts: readonly AttemptAccessLog[];
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
  /**
   * Dynamic metadata both stages returned, namespace `llm-extproc` only (receiving_namespaces), merged in the order
   * the answers arrived: Envoy 1.40 writes the upstream stage's metadata into the request's stream info too.
   */
  readonly dynamicMetadata: Record<string, JsonObject>;
}

/** Diagnostic events (ignored mutations, retries, timeouts...), one object per event. */
export interface DataPlaneEvent {
  readonly event: string;
  readonly requestId?: string;
  readonly [field: string]: unknown;
}

export interface DataPlaneOptions {
  host: string;
  port: number;
  extprocTarget: string;
  topology: () => Topology;
  settings: () => DataPlaneSettings;
  /** Default: one JSON line to stdout. */
  accessLog?: (entry: AccessLogEntry) => void;
  /** Default: one JSON line to stderr. */
  log?: (event: DataPlaneEvent) => void;
  /** Random source for endpoint choice and retry back-off (tests pin it). */
  random?: () => number;
}

export interface DataPlane {
  readonly port: number;
  close(): Promise<void>;
}

interface Deps {
  readonly options: DataPlaneOptions;
  readonly grpcClient: ExternalProcessorClient;
  readonly upstream: UpstreamClient;
  readonly accessLog: (entry: AccessLogEntry) => void;
  readonly log: (event: DataPlaneEvent) => void;
  readonly random: () => number;
}

/** Writes the response to the client and records what was written. */
class Downstream {
  code = 0;
  details = '';
  bytesSent = 0;
  /** The data plane reset the client connection itself. */
  resetByUs = false;
  private started = false;
  private declaredLength: number | undefined;

  constructor(
    private readonly res: http.ServerResponse,
    private readonly log: FilterEventLog,
  ) {}

  get headersSent(): boolean {
    return this.started;
  }

  local(reply: LocalReply): void {
    this.whole(localReplyHeaders(reply), reply.body, reply.details);
  }

  /**
   * Headers and a complete body. Framed as Envoy's HTTP/1 codec frames it: a body without content-length goes
   * chunked (also one a processor replaced), an empty one without a length gets `content-length: 0`.
   */
  whole(headers: HeaderList, body: Buffer, details: string): void {
    if (body.length === 0 && !hasHeader(headers, 'content-length')) setHeader(headers, 'content-length', '0');
    this.start(headers, details);
    this.write(body);
    this.end();
  }

  start(headers: HeaderList, details: string): void {
    const status = Number(getHeader(headers, ':status'));
    this.details = details;
    const declared = getHeader(headers, 'content-length');
    this.declaredLength = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined;
    if (this.res.destroyed) return;
    this.res.writeHead(status, toNodeHeaders(headers));
    this.code = status;
    this.started = true;
    this.res.flushHeaders();
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0 || this.res.destroyed) return;
    if (this.declaredLength !== undefined && this.bytesSent + chunk.length > this.declaredLength) {
      this.log('downstream_content_length_exceeded', {
        declared: this.declaredLength,
        wouldSend: this.bytesSent + chunk.length,
      });
      this.reset('downstream_content_length_mismatch');
      return;
    }
    this.bytesSent += chunk.length;
    this.res.write(chunk);
  }

  end(): void {
    if (this.res.destroyed) return;
    if (this.declaredLength !== undefined && this.bytesSent !== this.declaredLength && this.res.req.method !== 'HEAD') {
      this.log('downstream_content_length_short', { declared: this.declaredLength, sent: this.bytesSent });
      this.reset('downstream_content_length_mismatch');
      return;
    }
    this.res.end();
  }

  /** Envoy resets the downstream stream when it cannot finish a response it already started. */
  reset(details: string): void {
    if (this.resetByUs) return;
    this.resetByUs = true;
    this.details = details;
    this.res.destroy();
  }
}

async function readBody(req: http.IncomingMessage): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return chunks;
}

/** Reads the next chunk of a response body, giving up when `scope` is interrupted. */
async function* guarded(body: AsyncIterable<Buffer>, scope: Interrupter): AsyncGenerator<Buffer> {
  const iterator = body[Symbol.asyncIterator]();
  for (;;) {
    const next = await scope.guard(iterator.next());
    if (next.done === true) return;
    yield next.value;
  }
}

function newFilter(
  deps: Deps,
  spec: FilterSpec,
  messageTimeoutMs: number,
  log: FilterEventLog,
  metadata?: DynamicMetadata,
): ExtProcFilter {
  const stream = new ProcessStream(deps.grpcClient, spec.initialMetadata, (why) =>
    log('ext_proc_message_ignored', { stage: spec.stage, why }),
  );
  return new ExtProcFilter(spec, stream, messageTimeoutMs, log, metadata);
}

/** The router-level filter's encode path, then the client. */
async function respond(
  filter: ExtProcFilter,
  source: ResponseSource,
  settings: DataPlaneSettings,
  client: Interrupter,
  routeScope: Interrupter,
  upstreamDone: () => void,
  downstream: Downstream,
): Promise<void> {
  // The route timeout runs until the upstream response is complete; local replies are read from memory.
  const bodyScope = source.fromUpstream ? routeScope : client;
  const stopUpstream = bodyScope.onInterrupt(() => source.abort());
  try {
    const response: HttpMessage = { headers: source.headers, body: Buffer.alloc(0) };
    const headersOutcome = await client.guard(filter.headers('response', response, source.endOfStream));
    if (headersOutcome.kind === 'reply') {
      source.abort();
      downstream.local(headersOutcome.reply);
      return;
    }
    if (filter.bodyReplaced('response') || source.endOfStream) {
      // CONTINUE_AND_REPLACE: the upstream body is read and dropped; the replacement goes out instead.
      for await (const chunk of guarded(source.body, bodyScope)) void chunk;
      upstreamDone();
      downstream.whole(response.headers, response.body, source.details);
      return;
    }
    switch (filter.bodyMode('response')) {
      case 'BUFFERED':
      case 'BUFFERED_PARTIAL': {
        const chunks: Buffer[] = [];
        let total = 0;
        for await (const chunk of guarded(source.body, bodyScope)) {
          total += chunk.length;
          // (A local reply's own body is not held against the limit.)
          if (source.fromUpstream && total > settings.bufferLimitBytes) {
            source.abort();
            upstreamDone();
            throw new ResponseTooLarge();
          }
          chunks.push(chunk);
        }
        upstreamDone();
        response.body = Buffer.concat(chunks);
        const bodyOutcome = await client.guard(filter.bufferedBody('response', response));
        if (bodyOutcome.kind === 'reply') {
          downstream.local(bodyOutcome.reply);
          return;
        }
        downstream.whole(response.headers, response.body, source.details);
        return;
      }
      case 'STREAMED': {
        downstream.start(response.headers, source.details);
        const chunks = guarded(source.body, bodyScope);
        // A chunk after which the upstream body is complete is the last one: it carries end_of_stream. A body
        // whose end arrives on its own (chunked framing) ends with an empty end_of_stream chunk.
        for (let done = false; !done;) {
          const next = await chunks.next();
          const chunk = next.done === true ? Buffer.alloc(0) : next.value;
          done = next.done === true || source.complete();
          if (done) upstreamDone();
          const result = await client.guard(filter.streamedChunk('response', chunk, done));
          if (result.kind === 'reply') {
            // An immediate response (or error) after the headers went out: Envoy can only reset the stream.
            source.abort();
            downstream.reset(result.reply.details);
            return;
          }
          downstream.write(result.chunk);
        }
        // The body's end is already known; let its iterator finish (that closes the upstream stage's stream).
        for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) void next;
        downstream.end();
        return;
      }
      case 'NONE': {
        downstream.start(response.headers, source.details);
        for await (const chunk of guarded(source.body, bodyScope)) downstream.write(chunk);
        upstreamDone();
        downstream.end();
        return;
      }
      case 'FULL_DUPLEX_STREAMED':
      case 'GRPC':
        throw new Error(`body mode ${filter.bodyMode('response')} is not emulated`);
    }
  } finally {
    stopUpstream();
  }
}

/** A BUFFERED response body outgrew the buffer limit (a local reply, or a reset if headers went out). */
class ResponseTooLarge extends Error {
  override readonly name = 'ResponseTooLarge';
}

async function handle(deps: Deps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const startedAt = Date.now();
  const settings = deps.options.settings();
  const topology = deps.options.topology();
  const client = new Interrupter();
  res.on('close', () => {
    if (!res.writableFinished) client.interrupt('downstream_remote_disconnect');
  });

  // What Envoy's HTTP/1 codec and connection manager hand to the filters.
  const headers: HeaderList = [
    [':authority', req.headers.host ?? ''],
    [':path', req.url ?? '/'],
    [':method', req.method ?? 'GET'],
    [':scheme', 'http'],
    ...fromRawHeaders(req.rawHeaders).filter(([name]) => name !== 'host'),
  ];
  // An edge proxy (use_remote_address, no internal addresses configured) regenerates x-request-id for every
  // request from outside: a client's own id is not kept (Envoy 1.40, parity/stream-order.test.ts).
  const requestId = randomUUID();
  setHeader(headers, REQUEST_ID_HEADER, requestId);
  const rid = requestId;
  const log: FilterEventLog = (event, fields) => deps.log({ event, requestId: rid, ...fields });
  const downstream = new Downstream(res, log);
  const hasBody = incomingHasBody(req.headers);
  const bodyRead = readBody(req);
  bodyRead.catch(() => client.interrupt('downstream_remote_disconnect'));

  const routerFilter = newFilter(deps, ROUTER_FILTER_SPEC, settings.messageTimeoutMs, log);
  client.onInterrupt(() => routerFilter.close());
  const routeScope = Interrupter.childOf(client);
  let routeTimer: NodeJS.Timeout | undefined;
  const upstreamDone = (): void => clearTimeout(routeTimer);

  let routeName: string | undefined;
  const attempts: AttemptLogEntry[] = [];
  let finalBackend: string | undefined;
  let finalHost: string | undefined;
  let bytesReceived = 0;
  let source: ResponseSource | undefined;

  try {
    // The route is chosen when the request headers arrive, before any filter runs.
    let route = selectRoute(headers, topology);
    const request: HttpMessage = { headers, body: Buffer.alloc(0) };
    let outcome = await client.guard(routerFilter.headers('request', request, !hasBody));
    if (outcome.kind === 'reply') {
      downstream.local(outcome.reply);
      return;
    }
    const chunks = await client.guard(bodyRead);
    bytesReceived = chunks.reduce((n, c) => n + c.length, 0);
    if (hasBody && !routerFilter.bodyReplaced('request')) {
      request.body = Buffer.concat(chunks);
      const mode = routerFilter.bodyMode('request');
      if ((mode === 'BUFFERED' || mode === 'BUFFERED_PARTIAL') && request.body.length > settings.bufferLimitBytes) {
        // Envoy's 413 is a local reply like any other: it passes the router stage's response path.
        source = localSource(LOCAL_REPLIES.requestTooLarge());
        await respond(routerFilter, source, settings, client, routeScope, upstreamDone, downstream);
        return;
      }
      outcome = await client.guard(processRequestBody(routerFilter, request, chunks));
      if (outcome.kind === 'reply') {
        downstream.local(outcome.reply);
        return;
      }
    }
    // clear_route_cache: the router looks the route up again, against the headers as they are now.
    if (routerFilter.takeRouteCacheCleared()) route = selectRoute(headers, deps.options.topology());

    if (route.kind === 'direct') {
      source = localSource(LOCAL_REPLIES.directResponse(route.status, route.body, route.headers));
    } else {
      routeName = route.route.cluster;
      if (settings.routeTimeoutMs > 0)
        routeTimer = setTimeout(() => routeScope.interrupt('route_timeout'), settings.routeTimeoutMs);
      const result = await forward(
        {
          settings,
          upstream: deps.upstream,
          // Envoy 1.40 writes an upstream filter's dynamic metadata into the request's stream info: one shared map.
          openUpstreamFilter: () =>
            newFilter(deps, UPSTREAM_FILTER_SPEC, settings.messageTimeoutMs, log, routerFilter.dynamicMetadata),
          random: deps.random,
          log,
        },
        route.route,
        {
          headers,
          body: request.body,
          hasBody: hasBody || request.body.length > 0,
          retriesAllowed: request.body.length <= settings.bufferLimitBytes,
        },
        routeScope,
        attempts,
      );
      source = result.source;
      finalBackend = result.endpoint?.backend.name;
      finalHost = result.endpoint?.backend.baseUrl.host;
      if (!source.fromUpstream) upstreamDone();
    }
    await respond(routerFilter, source, settings, client, routeScope, upstreamDone, downstream);
  } catch (error) {
    if (error instanceof Interrupted && error.reason === 'downstream_remote_disconnect') {
      if (!downstream.resetByUs) {
        downstream.details = 'downstream_remote_disconnect';
        if (!downstream.headersSent) downstream.code = 0;
      }
    } else if (
      error instanceof Interrupted ||
      error instanceof UpstreamResetError ||
      error instanceof ResponseTooLarge
    ) {
      // The router gives up after the upstream response started (route timeout, upstream reset mid-body), or the
      // response outgrew the buffer. FilterManager::sendLocalReply: if no response headers reached the client yet
      // (a BUFFERED router stage still holds them) a local reply goes out directly, bypassing the filters;
      // otherwise the stream is reset.
      source?.abort();
      const reply =
        error instanceof ResponseTooLarge
          ? LOCAL_REPLIES.responseTooLarge()
          : error instanceof Interrupted
            ? LOCAL_REPLIES.routeTimeout()
            : LOCAL_REPLIES.resetAfterResponseStarted(error.reason);
      if (error instanceof UpstreamResetError) log('upstream_reset_after_response_started', { message: error.message });
      if (downstream.headersSent) downstream.reset(reply.details);
      else downstream.local(reply);
    } else {
      log('data_plane_error', { message: error instanceof Error ? error.message : String(error) });
      if (downstream.headersSent) downstream.reset('data_plane_error');
      else downstream.local(LOCAL_REPLIES.extProcError(500, 'data_plane_error'));
    }
  } finally {
    clearTimeout(routeTimer);
    routerFilter.close();
    // Nothing of the response is left in flight; this closes whatever an early exit left open (idempotent).
    source?.abort();
    const namespaces = metadataToJson(routerFilter.dynamicMetadata);
    deps.accessLog({
      startTime: new Date(startedAt).toISOString(),
      requestId: rid,
      method: req.method ?? '',
      path: req.url ?? '',
      authority: req.headers.host ?? '',
      route: routeName,
      responseCode: downstream.code,
      responseCodeDetails: downstream.details,
      upstreamBackend: finalBackend,
      upstreamHost: finalHost,
      attempts: attempts.map((a) => ({ backend: a.backend, host: a.host, priority: a.priority, outcome: a.outcome })),
      bytesReceived,
      bytesSent: downstream.bytesSent,
      durationMs: Date.now() - startedAt,
      dynamicMetadata:
        namespaces[METADATA_NAMESPACE] === undefined ? {} : { [METADATA_NAMESPACE]: namespaces[METADATA_NAMESPACE] },
    });
  }
}

export async function startDataPlane(options: DataPlaneOptions): Promise<DataPlane> {
  if (UPSTREAM_FILTER_SPEC.modes.response.body !== 'NONE') {
    throw new Error('the local data plane only reproduces an upstream ext_proc filter with response_body_mode NONE');
  }
  const deps: Deps = {
    options,
    grpcClient: createExtProcClient(options.extprocTarget),
    upstream: new UpstreamClient(),
    accessLog: options.accessLog ?? ((entry) => process.stdout.write(`${JSON.stringify(entry)}\n`)),
    log: options.log ?? ((event) => process.stderr.write(`${JSON.stringify({ component: 'dataplane', ...event })}\n`)),
    random: options.random ?? Math.random,
  };
  const server = http.createServer((req, res) => {
    handle(deps, req, res).catch((error: unknown) => {
      deps.log({ event: 'data_plane_error', message: error instanceof Error ? error.message : String(error) });
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      deps.grpcClient.close();
      deps.upstream.close();
    },
  };
}
