// Upstream stage: once per attempt, after Envoy picked the endpoint. Stateless across requests: the backend comes
// from the endpoint's metadata (an ext_proc attribute) and the unified body from Envoy's buffer, so any replica
// can serve any attempt. Rewrites path, credentials and body into the chosen provider's format.
import type { ConfigSnapshot } from '../config/store.js';
import type { ResolvedBackend } from '../config/topology.js';
import { attemptCredentials } from '../credentials/index.js';
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HttpBody__Output } from '../generated/envoy/service/ext_proc/v3/HttpBody.js';
import { providerFor, providerRequestHeaders } from '../providers/registry.js';
import { parsePrevalidatedChatRequest } from '../unified/chat-request.js';
import { log } from '../telemetry/log.js';
import { metrics } from '../telemetry/metrics.js';
import { applyParamPolicy } from '../providers/param-policy.js';
import {
  BACKEND_ATTRIBUTE,
  BACKEND_HEADER,
  CLUSTER_BACKEND_ATTRIBUTE,
  DROPPED_PARAMS_HEADER,
  EXT_PROC_FILTER_NAME,
  ROUTE_HEADER,
  UPSTREAM_AUTH_HEADER,
} from './contract.js';
import { continueWith, readHeaders, stringAttribute, type Headers } from './messages.js';
import type { StageHandler, StreamEnd } from './stage.js';

/** Client credentials (virtual keys) must never travel to a provider. */
const CLIENT_CREDENTIAL_HEADERS = ['authorization', 'api-key', 'x-api-key', 'x-goog-api-key'];
/**
 * Client headers a provider may see: content negotiation, the client's user agent, and tracing. Everything else
 * the client sent (cookies, proxy credentials, OpenAI organisation/project, x-envoy-*, our x-llm-extproc-*, a
 * content-encoding describing a body we replaced, hop-by-hop headers…) is removed. Backends add names with
 * `forwardHeaders`. Pseudo-headers and host are Envoy's and stay.
 */
export const DEFAULT_FORWARDED_HEADERS: readonly string[] = [
  'accept',
  'accept-language',
  'user-agent',
  'x-request-id',
  'traceparent',
  'tracestate',
];

/** Headers whose current value is compared so an unchanged one is not sent again. */
const COMPARED_HEADERS = [':path', 'content-type', 'content-length', 'accept-encoding'];

/**
 * Envoy ≤ 1.37 cannot send an immediate response from an upstream filter, so a failure here closes the gRPC
 * stream with an error: Envoy answers 500 and the router stage turns that into an OpenAI-shaped error.
 */
export class UpstreamStageError extends Error {}

export class UpstreamStage implements StageHandler {
  #backend: ResolvedBackend | undefined;
  #present: ReadonlySet<string> = new Set();
  #current: Headers = new Map();
  #bodyChunks: Buffer[] = [];
  #done = false;
  /** Request fields this attempt's backend dropped (unsupportedParams: drop), reported on the response. */
  #dropped: readonly string[] = [];

  constructor(private readonly snapshot: ConfigSnapshot) {}

  handle(message: ProcessingRequest__Output): ProcessingResponse {
    switch (message.request) {
      case 'request_headers': {
        const name =
          stringAttribute(message.attributes, EXT_PROC_FILTER_NAME, BACKEND_ATTRIBUTE) ||
          stringAttribute(message.attributes, EXT_PROC_FILTER_NAME, CLUSTER_BACKEND_ATTRIBUTE);
        if (!name)
          throw new UpstreamStageError(
            `attribute ${BACKEND_ATTRIBUTE} missing: check request_attributes and endpoint metadata`,
          );
        const backend = this.snapshot.topology.backends.get(name);
        if (!backend)
          throw new UpstreamStageError(`endpoint names backend '${name}', which the config does not define`);
        if (backend.disabledReason)
          throw new UpstreamStageError(`backend '${name}' is disabled: ${backend.disabledReason}`);
        this.#backend = backend;
        if (message.request_headers?.end_of_stream) throw new UpstreamStageError('request has no body');
        // Remember what the attempt carries so the body response only changes what differs (smaller messages).
        this.#present = new Set(
          (message.request_headers?.headers?.headers ?? []).map((h) => (h.key ?? '').toLowerCase()),
        );
        this.#current = readHeaders(message.request_headers?.headers, COMPARED_HEADERS);
        // Headers are held by Envoy until the buffered body is answered; all rewrites happen there.
        return continueWith('request_headers');
      }
      case 'request_body':
        return this.#onRequestBody(message.request_body);
      case 'response_headers':
        this.#done = true;
        return this.#onResponseHeaders(message);
      case 'response_body':
        return continueWith('response_body');
      case 'request_trailers':
        return { request_trailers: {} };
      case 'response_trailers':
        return { response_trailers: {} };
      default:
        throw new UpstreamStageError(`unexpected ext_proc message ${String(message.request)}`);
    }
  }

  #onRequestBody(message: HttpBody__Output | undefined): ProcessingResponse {
    this.#bodyChunks.push(message?.body ?? Buffer.alloc(0));
    if (!message?.end_of_stream) return continueWith('request_body');
    const backend = this.#backend;
    if (!backend) throw new UpstreamStageError('request body before request headers');
    const request = parsePrevalidatedChatRequest(
      this.#bodyChunks.length === 1 ? this.#bodyChunks[0]! : Buffer.concat(this.#bodyChunks),
    );
    this.#bodyChunks = [];
    const route = this.snapshot.topology.routes.get(request.model);
    const endpoint = route?.endpoints.find((e) => e.backend.name === backend.name);
    if (!endpoint) throw new UpstreamStageError(`backend '${backend.name}' does not serve model '${request.model}'`);

    const provider = providerFor(backend.provider);
    let outbound = request;
    if (endpoint.unsupportedParams === 'drop') {
      // The router stage accepted the request for every backend; this one leaves out what it cannot honour.
      const outcome = applyParamPolicy(provider, request, backend, endpoint.upstreamModel, 'drop');
      outbound = outcome.request;
      this.#dropped = outcome.dropped;
      for (const param of outcome.dropped) metrics.droppedParams.inc({ backend: backend.name, param });
    }
    const credentials = attemptCredentials(backend);
    const upstream = provider.buildRequest(outbound, {
      backend,
      upstreamModel: endpoint.upstreamModel,
      now: new Date(),
      credentials,
    });
    metrics.upstreamAttempts.inc({ backend: backend.name });
    // Remove what must not travel: our routing and tenant headers, client credentials, and headers another backend's
    // rewrite left behind on a previous attempt (Envoy reuses the header map across retries).
    const remove: string[] = [];
    const tenantHeader = this.snapshot.config.budgets?.trustedTenantHeader?.name;
    const internal = tenantHeader ? [ROUTE_HEADER, tenantHeader] : [ROUTE_HEADER];
    for (const name of [
      ...internal,
      ...CLIENT_CREDENTIAL_HEADERS,
      ...this.snapshot.topology.backendHeaderNames,
      ...providerRequestHeaders,
    ]) {
      if (this.#present.has(name) && !Object.hasOwn(upstream.headers, name) && !remove.includes(name))
        remove.push(name);
    }
    const wanted: Record<string, string> = {
      ...upstream.headers,
      ':path': upstream.path,
      'content-length': String(upstream.body.length),
      // The router stage reads and rewrites response bodies; a compressed one would lose usage and translation.
      'accept-encoding': 'identity',
    };
    // Every other client header leaves only from the allowlist (DEFAULT_FORWARDED_HEADERS + forwardHeaders).
    const forwarded = new Set([...DEFAULT_FORWARDED_HEADERS, ...backend.config.forwardHeaders]);
    for (const name of this.#present) {
      if (
        name.startsWith(':') ||
        name === 'host' ||
        Object.hasOwn(wanted, name) ||
        forwarded.has(name) ||
        remove.includes(name)
      )
        continue;
      remove.push(name);
    }
    const set: Record<string, string> = {};
    for (const [name, value] of Object.entries(wanted)) {
      if (this.#current.get(name) !== value) set[name] = value;
    }
    return continueWith('request_body', { headers: { set, remove }, body: upstream.body });
  }

  /**
   * Tags the response with the backend. A provider's 401/403 rejects the gateway's own credentials, not the
   * client's: it becomes a 502 here, before Envoy's router sees the status, so the retry policy (502 is retriable)
   * lets a failover backend serve. Envoy never retries an upstream filter's local reply, hence a status rewrite.
   */
  #onResponseHeaders(message: ProcessingRequest__Output): ProcessingResponse {
    const backend = this.#backend?.name ?? 'unknown';
    const set: Record<string, string> = { [BACKEND_HEADER]: backend };
    if (this.#dropped.length > 0) set[DROPPED_PARAMS_HEADER] = this.#dropped.join(',');
    const status = Number(readHeaders(message.response_headers?.headers, [':status']).get(':status') ?? 0);
    if (status === 401 || status === 403) {
      metrics.upstreamAuthFailures.inc({ backend, status: String(status) });
      log.warn("provider rejected the gateway's credentials; answering 502 so another backend can serve", {
        backend,
        status,
      });
      set[':status'] = '502';
      set[UPSTREAM_AUTH_HEADER] = String(status);
    }
    // Our markers are ours alone: a provider that sends one does not get to speak for the gateway.
    const remove = [UPSTREAM_AUTH_HEADER, DROPPED_PARAMS_HEADER].filter((name) => !(name in set));
    return continueWith('response_headers', { headers: { set, remove } });
  }

  close(how: StreamEnd): void {
    if (!this.#done) {
      // A clean end before the exchange finished means the exchange was abandoned (e.g. the client left).
      metrics.streamFailures.inc({ stage: 'upstream', reason: how === 'ended' ? 'abandoned' : how });
      log.debug('upstream stream ended early', { backend: this.#backend?.name, how });
    }
  }
}
