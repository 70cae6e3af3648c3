// Envoy's router filter for one request to an LLM cluster: pick an endpoint, run the cluster's upstream filter
// chain (our upstream ext_proc stage, a fresh Process stream per attempt) and the upstream request, retry per
// ROUTE_RETRY_POLICY, and answer with a local reply when nothing better is possible. The route timeout covers
// every attempt (router_filter docs: "the timeout includes all retries").
import { BACKEND_ATTRIBUTE } from '../extproc/contract.js';
import type { ResolvedRoute, RouteEndpoint } from '../config/topology.js';
import { newPickerState, pickEndpoint } from './endpoint-picker.js';
import { processRequestBody, type ExtProcFilter, type FilterEventLog, type HttpMessage } from './ext-proc-filter.js';
import { RETRY_BACK_OFF_MS } from './filters.js';
import { getHeader, setHeader, type HeaderList } from './headers.js';
import { Interrupted, type Interrupter } from './interrupt.js';
import { LOCAL_REPLIES, localReplyHeaders, type LocalReply } from './local-reply.js';
import type { UpstreamClient } from './upstream-client.js';

/** A response on its way to the router-level filter: from an upstream, or a local reply made below it. */
export interface ResponseSource {
  /** Includes ":status". */
  readonly headers: HeaderList;
  readonly endOfStream: boolean;
  readonly body: AsyncIterable<Buffer>;
  /** response_code_details if this response reaches the client: "via_upstream" or the local reply's. */
  readonly details: string;
  /** The body comes from an upstream connection (so the route timeout still runs while it is read). */
  readonly fromUpstream: boolean;
  /** True when the chunk just read from `body` was its last one (the body has fully arrived). */
  complete(): boolean;
  /** Stop the response (reset the upstream request, close its upstream-stage stream). */
  abort(): void;
}

export function localSource(reply: LocalReply): ResponseSource {
  const body = reply.body;
  return {
    headers: localReplyHeaders(reply),
    endOfStream: body.length === 0,
    body: (async function* () {
      if (body.length > 0) yield body;
    })(),
    details: reply.details,
    fromUpstream: false,
    complete: () => true,
    abort: () => {},
  };
}

export interface AttemptLogEntry {
  readonly backend: string;
  readonly host: string;
  readonly priority: number;
  /** The status the upstream stage let through, a reset reason, or a local reply's details. */
  outcome: string;
}

export interface RouterSettings {
  readonly numRetries: number;
  readonly retriableStatusCodes: readonly number[];
}

export interface RouterDeps {
  readonly settings: RouterSettings;
  readonly upstream: UpstreamClient;
  /** A new upstream-stage filter instance (and gRPC stream) for one attempt. */
  readonly openUpstreamFilter: () => ExtProcFilter;
  readonly random: () => number;
  readonly log: FilterEventLog;
}

export interface ForwardedRequest {
  /** The request headers. Shared by every attempt, as Envoy's router passes the same header map to each one:
   *  what an upstream filter changes in one attempt is still there in the next (ai-gateway PR #1387). */
  readonly headers: HeaderList;
  /** The body as the router buffered it for retries; each attempt gets a copy. */
  readonly body: Buffer;
  readonly hasBody: boolean;
  /** False once the body outgrew the buffer limit (Envoy then gives up on retries: retry_or_shadow_abandoned). */
  readonly retriesAllowed: boolean;
}

export interface RouterResult {
  readonly source: ResponseSource;
  readonly endpoint: RouteEndpoint | undefined;
  readonly attempts: readonly AttemptLogEntry[];
}

type AttemptResult =
  | { readonly kind: 'final'; readonly source: ResponseSource }
  | { readonly kind: 'retriable'; readonly source: ResponseSource };

function backOffMs(retry: number, random: () => number): number {
  return random() * Math.min(RETRY_BACK_OFF_MS.base * 2 ** retry, RETRY_BACK_OFF_MS.max);
}

async function attempt(
  deps: RouterDeps,
  pool: string,
  filter: ExtProcFilter,
  endpoint: RouteEndpoint,
  request: ForwardedRequest,
  scope: Interrupter,
  log: AttemptLogEntry,
): Promise<AttemptResult> {
  let abortUpstream: (() => void) | undefined;
  const off = scope.onInterrupt(() => {
    filter.close();
    abortUpstream?.();
  });
  let handedOver = false;
  const final = (reply: LocalReply): AttemptResult => {
    log.outcome = reply.details;
    return { kind: 'final', source: localSource(reply) };
  };
  try {
    // auto_host_rewrite: Envoy rewrites the host in onPoolReady, in the header map the router shares between
    // attempts. With an idle connection in the cluster's pool that is at once, before the upstream filters run; with
    // a new connection they run while it is set up and see the downstream :authority (or the previous attempt's
    // rewrite). Envoy 1.40, parity/routing.test.ts.
    const host = endpoint.backend.baseUrl.host;
    const authorityBefore = getHeader(request.headers, ':authority');
    const poolReady = deps.upstream.hasIdleConnection(pool, endpoint.backend.baseUrl);
    if (poolReady) setHeader(request.headers, ':authority', host);
    const message: HttpMessage = { headers: request.headers, body: Buffer.from(request.body) };
    let outcome = await scope.guard(
      filter.headers('request', message, !request.hasBody, { [BACKEND_ATTRIBUTE]: endpoint.backend.name }),
    );
    // Local replies from upstream filters never trigger retries (http_protocol_options.proto).
    if (outcome.kind === 'reply') return final(outcome.reply);
    if (request.hasBody) {
      outcome = await scope.guard(processRequestBody(filter, message, [message.body]));
      if (outcome.kind === 'reply') return final(outcome.reply);
    }
    if (!poolReady) setHeader(request.headers, ':authority', host);

    const sent = deps.upstream.send(
      {
        pool,
        origin: endpoint.backend.baseUrl,
        method: getHeader(message.headers, ':method') ?? 'GET',
        path: getHeader(message.headers, ':path') ?? '/',
        authority: getHeader(message.headers, ':authority') ?? endpoint.backend.baseUrl.host,
        headers: message.headers,
        body: message.body,
      },
      (what) => deps.log('upstream_request_adjusted', { backend: endpoint.backend.name, what }),
    );
    abortUpstream = sent.abort;
    const result = await scope.guard(sent.result);
    if (result.kind === 'failure') {
      // No connection, no onPoolReady: Envoy never rewrote the host for this attempt.
      if (!poolReady && result.reason === 'connection_failure' && authorityBefore !== undefined)
        setHeader(request.headers, ':authority', authorityBefore);
      log.outcome = result.reason;
      deps.log('upstream_failure', { backend: endpoint.backend.name, reason: result.reason, message: result.message });
      return { kind: 'retriable', source: localSource(LOCAL_REPLIES.resetBeforeHeaders(result.reason)) };
    }
    abortUpstream = result.abort;

    const response: HttpMessage = { headers: result.headers, body: Buffer.alloc(0) };
    outcome = await scope.guard(filter.headers('response', response, result.endOfStream));
    if (outcome.kind === 'reply') {
      result.abort();
      return final(outcome.reply);
    }
    const status = Number(getHeader(response.headers, ':status'));
    log.outcome = String(status);
    const upstreamBody = result.body;
    const source: ResponseSource = {
      headers: response.headers,
      endOfStream: result.endOfStream,
      // response_body_mode NONE: the body passes the upstream stage untouched; its stream ends with the response.
      body: (async function* () {
        try {
          yield* upstreamBody;
        } finally {
          filter.close();
        }
      })(),
      details: 'via_upstream',
      fromUpstream: true,
      complete: () => result.complete(),
      abort: () => {
        result.abort();
        filter.close();
      },
    };
    handedOver = true;
    return deps.settings.retriableStatusCodes.includes(status)
      ? { kind: 'retriable', source }
      : { kind: 'final', source };
  } finally {
    off();
    if (!handedOver) filter.close();
  }
}

/** Routes one request to `route`. `attempts` receives one entry per attempt as it starts (kept if this throws). */
export async function forward(
  deps: RouterDeps,
  route: ResolvedRoute,
  request: ForwardedRequest,
  scope: Interrupter,
  attempts: AttemptLogEntry[] = [],
): Promise<RouterResult> {
  const picker = newPickerState();
  let endpoint: RouteEndpoint | undefined;
  try {
    for (let retry = 0; ; retry++) {
      endpoint = pickEndpoint(route.endpoints, picker, deps.random);
      if (endpoint === undefined) return { source: localSource(LOCAL_REPLIES.noHealthyUpstream()), endpoint, attempts };
      const filter = deps.openUpstreamFilter();
      const log: AttemptLogEntry = {
        backend: endpoint.backend.name,
        host: endpoint.backend.baseUrl.host,
        priority: endpoint.priority,
        outcome: '',
      };
      attempts.push(log);
      const result = await attempt(deps, route.cluster, filter, endpoint, request, scope, log);
      if (result.kind === 'final') return { source: result.source, endpoint, attempts };
      if (retry >= deps.settings.numRetries || !request.retriesAllowed)
        return { source: result.source, endpoint, attempts };
      result.source.abort();
      deps.log('upstream_retry', {
        cluster: route.cluster,
        backend: endpoint.backend.name,
        outcome: log.outcome,
        retry: retry + 1,
      });
      await scope.sleep(backOffMs(retry, deps.random));
    }
  } catch (error) {
    if (error instanceof Interrupted) {
      const last = attempts[attempts.length - 1];
      if (last !== undefined && last.outcome === '')
        last.outcome = error.reason === 'route_timeout' ? 'upstream_response_timeout' : error.reason;
      if (error.reason === 'route_timeout')
        return { source: localSource(LOCAL_REPLIES.routeTimeout()), endpoint, attempts };
    }
    throw error;
  }
}
