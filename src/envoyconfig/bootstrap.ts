// The Envoy bootstrap for a service config: `llm-extproc envoy-bootstrap` prints it, `npm start` and the tests run
// Envoy with it, and envoy/envoy.yaml is its output for the embedded default config. Pure: config in, bootstrap
// out. The ext_proc filters, the retry policy and the cluster load-balancing settings come from
// src/dataplane/filters.ts — the same data the stand-in data plane runs — so the two cannot drift apart.
// Why each setting is there: docs/envoy.md.
import { Document } from 'yaml';
import type { BackendConfig, ServiceConfig } from '../config/schema.js';
import { backendBaseUrl, clusterNameForModel } from '../config/topology.js';
import { ENDPOINT_BACKEND_KEY, EXT_PROC_SERVICE_NAME, METADATA_NAMESPACE, REQUEST_ID_HEADER, ROUTE_HEADER } from '../extproc/contract.js';
import {
  EXT_PROC_CLUSTER,
  LLM_CLUSTER_LB,
  ROUTE_RETRY_POLICY,
  ROUTER_EXT_PROC_FILTER,
  UPSTREAM_EXT_PROC_FILTER,
  type ExtProcFilterConfig,
} from '../dataplane/filters.js';
import { splitHostPort } from '../util/address.js';

export interface BootstrapOptions {
  /** Envoy's HTTP listener (host:port). Default 0.0.0.0:10000. */
  readonly listen?: string;
  /**
   * Where Envoy reaches llm-extproc: host:port or unix:/path, or several (replicas). Default: the config's extproc
   * address (a wildcard host becomes loopback).
   */
  readonly extproc?: string | readonly string[];
  /** Envoy's admin listener (host:port). Default 127.0.0.1:9901 (loopback: the admin API can change Envoy's state). */
  readonly admin?: string;
  /** Trust bundle for TLS to providers. Default: Debian's system bundle. */
  readonly caFile?: string;
  /**
   * Backends to leave out of the clusters: those whose credentials are missing where Envoy runs. Envoy would
   * otherwise balance over them and the attempt would fail in the upstream stage, a local reply Envoy never retries.
   */
  readonly disabledBackends?: ReadonlySet<string>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const DEFAULT_LISTEN = '0.0.0.0:10000';
export const DEFAULT_ADMIN = '127.0.0.1:9901';
const MAX_DOWNSTREAM_CONNECTIONS = 50_000;
const EXT_PROC_STREAMS_PER_CONNECTION = 500;
const DEFAULT_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const TLS_TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';

const seconds = (ms: number): string => `${ms / 1000}s`;
const json = (value: unknown): Json => JSON.parse(JSON.stringify(value)) as Json;

function socketAddress(hostPort: string): JsonObject {
  const { host, port } = splitHostPort(hostPort);
  return { socket_address: { address: host, port_value: port } };
}

function extprocAddress(target: string): JsonObject {
  if (target.startsWith('unix:')) return { pipe: { path: target.slice('unix:'.length) } };
  const { host, port } = splitHostPort(target);
  return socketAddress(`${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`);
}

/**
 * Opening an ext_proc stream is retried on another replica when the chosen one refuses the connection or answers
 * UNAVAILABLE (draining, restarting): without it, a rolling restart failed ~1 request in 600 through Envoy 1.40 in
 * the window before the health checker noticed (test/e2e/rolling-restart.test.ts).
 */
const EXT_PROC_STREAM_RETRY: JsonObject = {
  retry_on: 'connect-failure,refused-stream,unavailable',
  num_retries: 2,
  retry_back_off: { base_interval: '0.01s', max_interval: '0.1s' },
  retry_host_predicate: [
    {
      name: 'envoy.retry_host_predicates.previous_hosts',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
    },
  ],
  host_selection_retry_max_attempts: 3,
};

/** An ext_proc filter with the settings that come from the service config. */
function extProcFilter(filter: ExtProcFilterConfig, config: ServiceConfig, statPrefix: string): JsonObject {
  const typedConfig = json(filter.typed_config) as JsonObject & { grpc_service: JsonObject };
  return {
    name: filter.name,
    typed_config: {
      ...typedConfig,
      grpc_service: { ...typedConfig.grpc_service, retry_policy: EXT_PROC_STREAM_RETRY },
      // The 200 ms default times out on large bodies and tokenisation under load.
      message_timeout: seconds(config.dataPlane.messageTimeoutMs),
      stat_prefix: statPrefix,
    },
  };
}

function retryPolicy(config: ServiceConfig): JsonObject {
  return {
    ...(json(ROUTE_RETRY_POLICY) as JsonObject),
    num_retries: config.dataPlane.numRetries,
    retriable_status_codes: [...config.dataPlane.retriableStatusCodes],
    // Providers send Retry-After on 429; honoured up to 10 s, beyond that the back-off above applies.
    rate_limited_retry_back_off: { reset_headers: [{ name: 'retry-after', format: 'SECONDS' }], max_interval: '10s' },
  };
}

function modelRoute(model: string, config: ServiceConfig): JsonObject {
  const cluster = clusterNameForModel(model);
  return {
    name: cluster,
    match: { prefix: '/', headers: [{ name: ROUTE_HEADER, string_match: { exact: cluster } }] },
    route: {
      cluster,
      // Host := the endpoint's hostname (api.openai.com), as TLS virtual hosting needs.
      auto_host_rewrite: true,
      // The whole request, every retry and the streamed body included.
      timeout: seconds(config.dataPlane.routeTimeoutMs),
      retry_policy: retryPolicy(config),
    },
  };
}

/** Catch-all: every request lands here until the router stage sets the route header (or answers itself). */
const UNROUTED_ROUTE: JsonObject = {
  name: 'llm.unrouted',
  match: { prefix: '/' },
  direct_response: {
    status: 404,
    body: {
      inline_string: JSON.stringify({
        error: { message: 'no LLM route was selected for this request', type: 'invalid_request_error', param: null, code: 'route_not_selected' },
      }),
    },
  },
  response_headers_to_add: [{ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
};

/** One JSON object per request; `llm_extproc` is the router stage's whole dynamic-metadata namespace. */
const ACCESS_LOG_FORMAT: JsonObject = {
  start_time: '%START_TIME%',
  request_id: `%REQ(${REQUEST_ID_HEADER.toUpperCase()})%`,
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  response_code: '%RESPONSE_CODE%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  response_flags: '%RESPONSE_FLAGS%',
  route: '%ROUTE_NAME%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration_ms: '%DURATION%',
  llm_extproc: `%DYNAMIC_METADATA(${METADATA_NAMESPACE})%`,
};

/** One JSON object per upstream attempt (router upstream_log): which backend, what it answered. */
const UPSTREAM_LOG_FORMAT: JsonObject = {
  log_type: 'upstream_attempt',
  request_id: `%REQ(${REQUEST_ID_HEADER.toUpperCase()})%`,
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  upstream_host: '%UPSTREAM_HOST%',
  backend: `%UPSTREAM_METADATA(${METADATA_NAMESPACE}:${ENDPOINT_BACKEND_KEY})%`,
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
  duration_ms: '%DURATION%',
};

/** An OpenAI-shaped error body Envoy writes itself, for the failures where the service cannot answer. */
function openAiErrorBody(message: string, code: string): JsonObject {
  return {
    json_format: { error: { message: `${message} (request id: %REQ(${REQUEST_ID_HEADER.toUpperCase()})%)`, type: 'server_error', param: null, code } },
    content_type: 'application/json',
  };
}

function codeDetailsFilter(expression: string): JsonObject {
  return {
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter', expression },
    },
  };
}

/**
 * Envoy's own replies when the router-level ext_proc cannot run (no replica reachable, a replica failing) would be
 * empty 500s; clients get the unified error shape instead. Fail closed: routing, credentials and budgets all
 * depend on the service. Every other local reply passes the router stage, which shapes it.
 */
const LOCAL_REPLY_CONFIG: JsonObject = {
  mappers: [
    {
      // gRPC UNAVAILABLE (14): no replica accepted the stream, e.g. all down or all draining.
      filter: codeDetailsFilter("response.code_details.startsWith('ext_proc_error_gRPC_error_14')"),
      status_code: 503,
      body_format_override: openAiErrorBody('The gateway cannot process requests right now; retry shortly.', 'gateway_unavailable'),
    },
    {
      filter: codeDetailsFilter("response.code_details.startsWith('ext_proc_error')"),
      body_format_override: openAiErrorBody('The gateway failed to process this request.', 'gateway_error'),
    },
  ],
};

function stdoutLog(format: JsonObject): JsonObject {
  return {
    name: 'envoy.access_loggers.stdout',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', log_format: { json_format: format } },
  };
}

function listener(config: ServiceConfig, listen: string): JsonObject {
  return {
    name: 'llm_ingress',
    address: socketAddress(listen),
    // BUFFERED bodies must fit (else 413/500), and it bounds the body copy the router keeps for retries.
    per_connection_buffer_limit_bytes: config.dataPlane.bufferLimitBytes,
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'llm_ingress',
              codec_type: 'AUTO',
              // Edge proxy: trust the TCP peer, not a client-supplied x-forwarded-for.
              use_remote_address: true,
              normalize_path: true,
              merge_slashes: true,
              generate_request_id: true,
              // SSE streams pause between tokens; five minutes without a byte ends one.
              stream_idle_timeout: '300s',
              access_log: [stdoutLog(ACCESS_LOG_FORMAT)],
              local_reply_config: LOCAL_REPLY_CONFIG,
              route_config: {
                name: 'llm_routes',
                virtual_hosts: [
                  {
                    name: 'llm',
                    domains: ['*'],
                    // One explicit route per model (not cluster_header): the header can only select an llm.* cluster.
                    routes: [...config.routes.map((r) => modelRoute(r.model, config)), UNROUTED_ROUTE],
                  },
                ],
              },
              http_filters: [
                extProcFilter(ROUTER_EXT_PROC_FILTER, config, 'router'),
                {
                  name: 'envoy.filters.http.router',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                    upstream_log: [stdoutLog(UPSTREAM_LOG_FORMAT)],
                  },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

interface Upstream {
  readonly host: string;
  /** What auto_host_rewrite puts in Host: the URL's host, with the port when it is not the scheme's default (SigV4 signs it). */
  readonly authority: string;
  readonly port: number;
  readonly tls: boolean;
}

function upstreamOf(backend: BackendConfig): Upstream {
  const url = new URL(backendBaseUrl(backend));
  const tls = url.protocol === 'https:';
  // URL keeps IPv6 literals bracketed; Envoy wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, authority: url.host, port: url.port ? Number(url.port) : tls ? 443 : 80, tls };
}

const isIpLiteral = (host: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');

function tlsSocket(host: string, caFile: string, alpn: boolean): JsonObject {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: host,
      common_tls_context: {
        // HTTP/2 where the provider offers it, else HTTP/1.1 (auto_config below picks by ALPN).
        ...(alpn ? { alpn_protocols: ['h2', 'http/1.1'] } : {}),
        validation_context: {
          trusted_ca: { filename: caFile },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: host } }],
        },
      },
    },
  };
}

function llmCluster(route: ServiceConfig['routes'][number], config: ServiceConfig, caFile: string, disabled: ReadonlySet<string>): JsonObject {
  const name = clusterNameForModel(route.model);
  const backends = new Map(config.backends.map((b) => [b.name, b]));
  const endpoints = route.backends
    .filter((ref) => !disabled.has(ref.backend))
    .map((ref) => {
      const backend = backends.get(ref.backend);
      if (!backend) throw new Error(`route ${route.model} names unknown backend ${ref.backend}`);
      return { backend, upstream: upstreamOf(backend), priority: ref.priority ?? backend.priority, weight: ref.weight };
    });
  // Envoy wants priorities 0..N without gaps; the config may skip levels, the order is what matters.
  const levels = [...new Set(endpoints.map((e) => e.priority))].sort((a, b) => a - b);
  const tlsHosts = [...new Set(endpoints.filter((e) => e.upstream.tls).map((e) => e.upstream.host))];
  const plaintext = endpoints.some((e) => !e.upstream.tls);
  // One TLS host and nothing else: a plain transport socket. Mixed: one match per SNI, keyed by endpoint metadata.
  const perEndpointTls = tlsHosts.length > 1 || (tlsHosts.length === 1 && plaintext);
  // Envoy 1.40 refuses auto_config (ALPN) when any endpoint of the cluster has a non-ALPN (plaintext) socket.
  const alpn = tlsHosts.length > 0 && !plaintext;
  const transport: JsonObject =
    tlsHosts.length === 1 && !plaintext
      ? { transport_socket: tlsSocket(tlsHosts[0] as string, caFile, alpn) }
      : perEndpointTls
        ? {
            transport_socket_matches: tlsHosts.map((host) => ({ name: `tls-${host}`, match: { tls: host }, transport_socket: tlsSocket(host, caFile, alpn) })),
          }
        : {};
  const allIps = endpoints.every((e) => isIpLiteral(e.upstream.host));
  return {
    name,
    type: allIps ? 'STATIC' : 'STRICT_DNS',
    // respect_dns_ttl is deprecated in Envoy 1.40 (it warns at validation); the refresh rate default (5 s) applies.
    ...(allIps ? {} : { dns_lookup_family: 'V4_PREFERRED' }),
    connect_timeout: '5s',
    lb_policy: LLM_CLUSTER_LB.lb_policy,
    common_lb_config: {
      ...(json(LLM_CLUSTER_LB.common_lb_config) as JsonObject | null),
      // Weight, health and metadata changes apply at once instead of being merged for 1 s.
      update_merge_window: '0s',
    },
    outlier_detection: {
      // Sized for 1-3 hosts per provider; 429 is not an error here.
      consecutive_5xx: 3,
      consecutive_gateway_failure: 2,
      enforcing_consecutive_gateway_failure: 100,
      // The 10 % default never ejects anything in a cluster of 1-3 hosts; ejecting the only host of a priority is
      // what moves traffic to the failover priority.
      max_ejection_percent: 100,
      interval: '5s',
      base_ejection_time: '30s',
    },
    circuit_breakers: {
      thresholds: [
        {
          priority: 'DEFAULT',
          // The default of 3 concurrent retries per cluster is far too few for long LLM requests.
          retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: 10 },
        },
      ],
    },
    ...transport,
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        common_http_protocol_options: { idle_timeout: '60s' },
        ...(alpn ? { auto_config: { http2_protocol_options: {} } } : { explicit_http_config: { http_protocol_options: {} } }),
        // Upstream filters run once per attempt, after the host is chosen: the only place that knows which backend
        // this attempt goes to. upstream_codec must be last.
        http_filters: [
          extProcFilter(UPSTREAM_EXT_PROC_FILTER, config, 'upstream'),
          { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' } },
        ],
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints: levels.map((level, priority) => ({
        priority,
        lb_endpoints: endpoints
          .filter((e) => e.priority === level)
          .map((e) => ({
            endpoint: { address: socketAddress(`${e.upstream.host}:${e.upstream.port}`), hostname: e.upstream.authority },
            load_balancing_weight: e.weight,
            metadata: {
              filter_metadata: {
                [METADATA_NAMESPACE]: { [ENDPOINT_BACKEND_KEY]: e.backend.name },
                ...(perEndpointTls && e.upstream.tls ? { [TLS_TRANSPORT_SOCKET_MATCH_KEY]: { tls: e.upstream.host } } : {}),
              },
            },
          })),
      })),
      policy: json(LLM_CLUSTER_LB.load_assignment.policy),
    },
  };
}

function extprocCluster(targets: readonly string[]): JsonObject {
  return {
    name: EXT_PROC_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        // Envoy ends an ext_proc stream that is still open with RST_STREAM(CANCEL); Node's HTTP/2 server answers
        // ~1,000 resets on one connection with GOAWAY (nghttp2's rapid-reset guard: burst 1000, 33/s), failing
        // the streams in flight (seen through Envoy 1.40 under load). A fresh connection every 500 streams keeps
        // every connection under that burst; the service also ends streams itself after the last answer.
        common_http_protocol_options: { max_requests_per_connection: EXT_PROC_STREAMS_PER_CONNECTION },
        // ext_proc is gRPC: HTTP/2. Keepalive notices a dead service within seconds.
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
      },
    },
    // The service's gRPC health (grpc.health.v1) follows its readiness and turns NOT_SERVING when it drains, so
    // Envoy stops opening streams to a replica that is shutting down.
    health_checks: [
      {
        timeout: '1s',
        interval: '1s',
        // The 60 s default applies until the cluster has seen traffic: a quiet gateway must notice a drain as fast.
        no_traffic_interval: '1s',
        unhealthy_threshold: 1,
        healthy_threshold: 1,
        grpc_health_check: { service_name: EXT_PROC_SERVICE_NAME },
      },
    ],
    circuit_breakers: {
      thresholds: [
        {
          priority: 'DEFAULT',
          // Each in-flight LLM request holds up to two gRPC streams (router + upstream stage) for its whole life;
          // the default of 1024 would fail ext_proc (→ 500) at ~500 concurrent requests.
          max_requests: 20000,
          max_pending_requests: 20000,
        },
      ],
    },
    load_assignment: {
      cluster_name: EXT_PROC_CLUSTER,
      endpoints: [{ lb_endpoints: targets.map((target) => ({ endpoint: { address: extprocAddress(target) } })) }],
    },
  };
}

/** The bootstrap as data (Envoy's YAML field names). */
export function buildBootstrap(config: ServiceConfig, options: BootstrapOptions = {}): JsonObject {
  const caFile = options.caFile ?? DEFAULT_CA_FILE;
  return {
    node: { id: 'llm-gateway', cluster: 'llm-gateway' },
    admin: { address: socketAddress(options.admin ?? DEFAULT_ADMIN) },
    // Envoy 1.40 warns at start when nothing bounds downstream connections; each one can hold a long SSE stream.
    overload_manager: {
      resource_monitors: [
        {
          name: 'envoy.resource_monitors.global_downstream_max_connections',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
            max_active_downstream_connections: MAX_DOWNSTREAM_CONNECTIONS,
          },
        },
      ],
    },
    static_resources: {
      listeners: [listener(config, options.listen ?? DEFAULT_LISTEN)],
      clusters: [...config.routes.map((r) => llmCluster(r, config, caFile, options.disabledBackends ?? new Set())), extprocCluster(typeof options.extproc === 'string' ? [options.extproc] : (options.extproc ?? [config.extproc.address]))],
    },
  };
}

const HEADER = `Envoy bootstrap generated by \`llm-extproc envoy-bootstrap\` from the service config. Do not edit: change the
service config and generate again. What each setting is for: docs/envoy.md.`;

/** The bootstrap as YAML text, with a header saying where it came from. */
export function bootstrapYaml(config: ServiceConfig, options: BootstrapOptions = {}, source?: string): string {
  const doc = new Document(buildBootstrap(config, options));
  doc.commentBefore = ' ' + (source ? `${HEADER}\nSource: ${source}` : HEADER).replaceAll('\n', '\n ');
  return doc.toString({ lineWidth: 0 });
}
