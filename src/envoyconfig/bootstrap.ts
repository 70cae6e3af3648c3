// The Envoy bootstrap for a service config: `llm-extproc envoy-bootstrap` prints it, `npm start` and the tests run
// Envoy with it, and envoy/envoy.yaml is its output for the embedded default config. Pure: config in, bootstrap
// out. The ext_proc filters, the retry policy and the cluster load-balancing settings come from
// src/dataplane/filters.ts — the same data the stand-in data plane runs — so the two cannot drift apart.
// Why each setting is there: docs/envoy.md.
import { Document } from 'yaml';
import type { BackendConfig, ServiceConfig } from '../config/schema.js';
import { backendBaseUrl, clusterNameForModel } from '../config/topology.js';
import { ENDPOINT_BACKEND_KEY, METADATA_NAMESPACE, REQUEST_ID_HEADER, ROUTE_HEADER } from '../extproc/contract.js';
import { CATCH_ALL_ROUTE, LLM_CLUSTER_LB, ROUTE_RETRY_POLICY, ROUTER_EXT_PROC_FILTER } from '../dataplane/filters.js';
import {
  extProcFilter,
  extprocCluster,
  extprocTransportSocket,
  HTTP_PROTOCOL_OPTIONS,
  isIpLiteral,
  isLocalExtprocTarget,
  type ExtprocClientTls,
  json,
  LLM_CIRCUIT_BREAKERS,
  LLM_OUTLIER_DETECTION,
  llmCommonLbConfig,
  llmUpstreamFilters,
  seconds,
  socketAddress,
} from './blocks.js';
import type { JsonObject } from '../util/json.js';
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
  /**
   * Take the LLM clusters from llm-extproc's xDS control plane (ADS) instead of listing them: weights and health
   * follow the semantic-health verdicts, and config reloads need no Envoy restart. Delta xDS by default.
   */
  readonly xds?: { readonly address: string; readonly api?: 'GRPC' | 'DELTA_GRPC' };
  /**
   * Mutual TLS from Envoy to llm-extproc. Required when a target is not loopback or a Unix socket, or when the
   * service config has extproc.tls: the ext_proc connection carries provider credentials.
   */
  readonly extprocTls?: ExtprocClientTls;
  /** Reach a non-local llm-extproc in plaintext anyway (the service must then run with extproc.allowInsecure). */
  readonly extprocInsecure?: boolean;
  /**
   * Mutual TLS from Envoy to the xDS control plane (the service's xds.tls), the same shape as extprocTls. Required
   * when the control plane is not loopback, or when the service config has xds.tls.
   */
  readonly xdsTls?: ExtprocClientTls;
  /** Reach a non-loopback control plane in plaintext anyway (the service must then run with xds.allowInsecure). */
  readonly xdsInsecure?: boolean;
}

export const DEFAULT_LISTEN = '0.0.0.0:10000';
export const DEFAULT_ADMIN = '127.0.0.1:9901';
const MAX_DOWNSTREAM_CONNECTIONS = 50_000;
export const DEFAULT_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';
const TLS_TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';

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

/**
 * With clusters from the control plane, one route serves every model, present and future: the router stage's
 * route header names the cluster. The prefix match keeps the header from ever selecting a cluster other than an
 * LLM one (llm-extproc, llm-xds), even on the first route evaluation, before the router stage has run.
 */
export function dynamicModelRoute(config: ServiceConfig): JsonObject {
  return {
    name: 'llm.models',
    match: { prefix: '/', headers: [{ name: ROUTE_HEADER, string_match: { prefix: clusterNameForModel('') } }] },
    route: {
      cluster_header: ROUTE_HEADER,
      auto_host_rewrite: true,
      timeout: seconds(config.dataPlane.routeTimeoutMs),
      retry_policy: retryPolicy(config),
    },
  };
}

/** Catch-all: every request lands here until the router stage sets the route header (or answers itself). */
const UNROUTED_ROUTE: JsonObject = { name: 'llm.unrouted', ...(json(CATCH_ALL_ROUTE) as JsonObject) };

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
    json_format: {
      error: {
        message: `${message} (request id: %REQ(${REQUEST_ID_HEADER.toUpperCase()})%)`,
        type: 'server_error',
        param: null,
        code,
      },
    },
    content_type: 'application/json',
  };
}

function codeDetailsFilter(expression: string): JsonObject {
  return {
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter',
        expression,
      },
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
      body_format_override: openAiErrorBody(
        'The gateway cannot process requests right now; retry shortly.',
        'gateway_unavailable',
      ),
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
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
      log_format: { json_format: format },
    },
  };
}

function listener(config: ServiceConfig, listen: string, dynamicClusters: boolean): JsonObject {
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
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
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
                    routes: [
                      ...(dynamicClusters
                        ? [dynamicModelRoute(config)]
                        : config.routes.map((r) => modelRoute(r.model, config))),
                      UNROUTED_ROUTE,
                    ],
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

export function llmCluster(
  route: ServiceConfig['routes'][number],
  config: ServiceConfig,
  caFile: string,
  disabled: ReadonlySet<string>,
): JsonObject {
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
            transport_socket_matches: tlsHosts.map((host) => ({
              name: `tls-${host}`,
              match: { tls: host },
              transport_socket: tlsSocket(host, caFile, alpn),
            })),
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
    common_lb_config: llmCommonLbConfig(),
    outlier_detection: LLM_OUTLIER_DETECTION,
    circuit_breakers: LLM_CIRCUIT_BREAKERS,
    ...transport,
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        common_http_protocol_options: { idle_timeout: '60s' },
        ...(alpn
          ? { auto_config: { http2_protocol_options: {} } }
          : { explicit_http_config: { http_protocol_options: {} } }),
        http_filters: llmUpstreamFilters(config),
      },
    },
    load_assignment: {
      cluster_name: name,
      endpoints: levels.map((level, priority) => ({
        priority,
        lb_endpoints: endpoints
          .filter((e) => e.priority === level)
          .map((e) => ({
            endpoint: {
              address: socketAddress(`${e.upstream.host}:${e.upstream.port}`),
              hostname: e.upstream.authority,
            },
            load_balancing_weight: e.weight,
            metadata: {
              filter_metadata: {
                [METADATA_NAMESPACE]: { [ENDPOINT_BACKEND_KEY]: e.backend.name },
                ...(perEndpointTls && e.upstream.tls
                  ? { [TLS_TRANSPORT_SOCKET_MATCH_KEY]: { tls: e.upstream.host } }
                  : {}),
              },
            },
          })),
      })),
      policy: json(LLM_CLUSTER_LB.load_assignment.policy),
    },
  };
}

/** The llm-extproc targets, refusing a plaintext connection the service would not accept or that crosses the network. */
function extprocTargets(config: ServiceConfig, options: BootstrapOptions): readonly string[] {
  const targets =
    typeof options.extproc === 'string' ? [options.extproc] : (options.extproc ?? [config.extproc.address]);
  if (options.extprocTls) return targets;
  if (config.extproc.tls) {
    throw new Error(
      'the service config has extproc.tls: give Envoy its client certificate (--extproc-cert, --extproc-key, --extproc-ca)',
    );
  }
  const remote = targets.filter((t) => !isLocalExtprocTarget(t));
  if (remote.length > 0 && !options.extprocInsecure) {
    throw new Error(
      `llm-extproc at ${remote.join(', ')} is not loopback or a Unix socket: the ext_proc connection carries provider credentials, so it needs mutual TLS (--extproc-cert, --extproc-key, --extproc-ca) or --extproc-insecure`,
    );
  }
  return targets;
}

/** The bootstrap as data (Envoy's YAML field names). */
export function buildBootstrap(config: ServiceConfig, given: BootstrapOptions = {}): JsonObject {
  // A config that runs the control plane gets an Envoy that uses it (a wildcard listen address is reached on loopback).
  const xds = given.xds ?? (config.xds.enabled ? { address: reachable(config.xds.address) } : undefined);
  const options: BootstrapOptions = { ...given, ...(xds ? { xds } : {}) };
  const caFile = options.caFile ?? DEFAULT_CA_FILE;
  const targets = extprocTargets(config, options);
  return {
    node: { id: 'llm-gateway', cluster: 'llm-gateway' },
    admin: { address: socketAddress(options.admin ?? DEFAULT_ADMIN) },
    layered_runtime: { layers: [{ name: 'llm-extproc', static_layer: ENVOY_RUNTIME }] },
    // Envoy 1.40 warns at start when nothing bounds downstream connections; each one can hold a long SSE stream.
    overload_manager: {
      resource_monitors: [
        {
          name: 'envoy.resource_monitors.global_downstream_max_connections',
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
            max_active_downstream_connections: MAX_DOWNSTREAM_CONNECTIONS,
          },
        },
      ],
    },
    static_resources: {
      listeners: [listener(config, options.listen ?? DEFAULT_LISTEN, options.xds !== undefined)],
      clusters: [
        // With a control plane the LLM clusters come over ADS (CDS + EDS: weights and health from verdicts).
        ...(options.xds
          ? [xdsCluster(options.xds.address, xdsClientTls(config, options.xds.address, options))]
          : config.routes.map((r) => llmCluster(r, config, caFile, options.disabledBackends ?? new Set()))),
        extprocCluster(targets, options.extprocTls),
      ],
    },
    ...(options.xds
      ? {
          dynamic_resources: {
            ads_config: {
              api_type: options.xds.api ?? 'DELTA_GRPC',
              transport_api_version: 'V3',
              grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
              set_node_on_first_message_only: true,
            },
            cds_config: { ads: {}, resource_api_version: 'V3' },
          },
        }
      : {}),
  };
}

export const XDS_CLUSTER = 'llm-xds';

function reachable(address: string): string {
  const { host, port } = splitHostPort(address);
  return `${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
}

/**
 * Runtime flags. ext_proc_graceful_grpc_close (opt-in since 1.34, off in 1.40): Envoy half-closes an ext_proc stream
 * and waits for the service's status instead of resetting it at once. Without it Envoy 1.40 reset all 48,000
 * streams of a soak run (RST_STREAM INTERNAL_ERROR) and Node's HTTP/2 server answered with GOAWAY after ~1,100 per
 * connection; with it, zero resets (bench/soak.ts --tap).
 */
const ENVOY_RUNTIME: JsonObject = { 'envoy.reloadable_features.ext_proc_graceful_grpc_close': true };

/** Envoy's TLS to the control plane, refusing plaintext the service would not accept or that crosses the network. */
function xdsClientTls(config: ServiceConfig, address: string, options: BootstrapOptions): ExtprocClientTls | undefined {
  if (options.xdsTls) return options.xdsTls;
  if (config.xds.tls)
    throw new Error(
      'the service config has xds.tls: give Envoy its client certificate for the control plane (--xds-cert, --xds-key, --xds-ca)',
    );
  if (!isLocalExtprocTarget(address) && !options.xdsInsecure) {
    throw new Error(
      `the xDS control plane at ${address} is not loopback: Envoy's whole LLM configuration comes over it, so it needs mutual TLS (--xds-cert, --xds-key, --xds-ca) or --xds-insecure`,
    );
  }
  return undefined;
}

/** The llm-extproc control plane (ADS over gRPC, so HTTP/2); mutual TLS as to llm-extproc when given. */
export function xdsCluster(address: string, tls: ExtprocClientTls | undefined): JsonObject {
  return {
    name: XDS_CLUSTER,
    // A DNS name (a Kubernetes Service) is resolved and re-resolved; an IP literal is static.
    ...(isIpLiteral(splitHostPort(address).host)
      ? { type: 'STATIC' }
      : { type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED' }),
    connect_timeout: '1s',
    ...(tls ? { transport_socket: extprocTransportSocket(tls, splitHostPort(address).host) } : {}),
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
      },
    },
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address) } }] }],
    },
  };
}

const HEADER = `Envoy bootstrap generated by \`llm-extproc envoy-bootstrap\` from the service config. Do not edit: change the
service config and generate again. What each setting is for: docs/envoy.md.`;

/** The bootstrap as YAML text, with a header saying where it came from. */
export function bootstrapYaml(config: ServiceConfig, options: BootstrapOptions = {}, source?: string): string {
  const doc = new Document(buildBootstrap(config, options), { aliasDuplicateObjects: false });
  doc.commentBefore = ' ' + (source ? `${HEADER}\nSource: ${source}` : HEADER).replaceAll('\n', '\n ');
  return doc.toString({ lineWidth: 0 });
}
