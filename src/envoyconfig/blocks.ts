// Envoy configuration blocks shared by the bootstrap generator (bootstrap.ts) and the Istio manifests (istio.ts):
// the ext_proc filters, the llm-extproc cluster and the settings every LLM cluster carries. Pure data builders.
import type { ServiceConfig } from '../config/schema.js';
import { EXT_PROC_SERVICE_NAME } from '../extproc/contract.js';
import {
  EXT_PROC_CLUSTER,
  LLM_CLUSTER_LB,
  UPSTREAM_EXT_PROC_FILTER,
  type ExtProcFilterConfig,
} from '../dataplane/filters.js';
import { splitHostPort } from '../util/address.js';
import { isLoopbackHost } from '../security/tls.js';
import type { JsonObject, JsonValue } from '../util/json.js';

export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const EXT_PROC_STREAMS_PER_CONNECTION = 500;

export const seconds = (ms: number): string => `${ms / 1000}s`;
export const json = (value: unknown): JsonValue => JSON.parse(JSON.stringify(value)) as JsonValue;
export const isIpLiteral = (host: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');

export function socketAddress(hostPort: string): JsonObject {
  const { host, port } = splitHostPort(hostPort);
  return { socket_address: { address: host, port_value: port } };
}

function extprocAddress(target: string): JsonObject {
  if (target.startsWith('unix:')) return { pipe: { path: target.slice('unix:'.length) } };
  const { host, port } = splitHostPort(target);
  return socketAddress(`${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`);
}

/** A target Envoy reaches without crossing the network: a Unix socket, loopback, or a wildcard (dialled on loopback). */
export function isLocalExtprocTarget(target: string): boolean {
  if (target.startsWith('unix:')) return true;
  const { host } = splitHostPort(target);
  return host === '0.0.0.0' || host === '::' || isLoopbackHost(host);
}

/**
 * Envoy's side of the mutual TLS to llm-extproc (the service's extproc.tls): Envoy's client certificate, the CA the
 * service's certificate chains to, the SNI and the service identity Envoy insists on. The certificate files are
 * read when the cluster is created: rotate them with a hot restart, or deliver them by SDS (docs/envoy.md).
 */
export interface ExtprocClientTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** SNI sent to the service. Default: the target's host (none for IP literals). */
  readonly sni?: string;
  /**
   * The service's identity in its certificate: a URI SAN (spiffe://…) or a DNS SAN. Default: the SNI as a DNS SAN;
   * with neither, any certificate from caFile is accepted.
   */
  readonly serviceSan?: string;
}

export function extprocTransportSocket(tls: ExtprocClientTls, targetHost?: string): JsonObject {
  const sni = tls.sni ?? (targetHost && !isIpLiteral(targetHost) ? targetHost : undefined);
  const san = tls.serviceSan ?? sni;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      ...(sni ? { sni } : {}),
      common_tls_context: {
        alpn_protocols: ['h2'],
        tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }],
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          ...(san
            ? {
                match_typed_subject_alt_names: [
                  { san_type: /^[a-z][a-z0-9+.-]*:\/\//.test(san) ? 'URI' : 'DNS', matcher: { exact: san } },
                ],
              }
            : {}),
        },
      },
    },
  };
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
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
      },
    },
  ],
  host_selection_retry_max_attempts: 3,
};

/** An ext_proc filter with the settings that come from the service config. */
export function extProcFilter(
  filter: ExtProcFilterConfig,
  config: ServiceConfig,
  statPrefix: string,
  authority?: string,
): JsonObject {
  const typedConfig = json(filter.typed_config) as JsonObject & { grpc_service: JsonObject };
  return {
    name: filter.name,
    typed_config: {
      ...typedConfig,
      grpc_service: {
        ...typedConfig.grpc_service,
        // Istio cluster names contain `|`, which must never become the gRPC :authority.
        ...(authority ? { envoy_grpc: { ...(typedConfig.grpc_service.envoy_grpc as JsonObject), authority } } : {}),
        retry_policy: EXT_PROC_STREAM_RETRY,
      },
      // The 200 ms default times out on large bodies and tokenisation under load.
      message_timeout: seconds(config.dataPlane.messageTimeoutMs),
      stat_prefix: statPrefix,
    },
  };
}

/** Weight, health and metadata changes apply at once instead of being merged for 1 s. */
export function llmCommonLbConfig(): JsonObject {
  return { ...(json(LLM_CLUSTER_LB.common_lb_config) as JsonObject), update_merge_window: '0s' };
}

export const LLM_OUTLIER_DETECTION: JsonObject = {
  // Sized for 1-3 hosts per provider; 429 is not an error here.
  consecutive_5xx: 3,
  consecutive_gateway_failure: 2,
  // Defaults to 0: gateway failures would be counted but never eject.
  enforcing_consecutive_gateway_failure: 100,
  // The 10 % default never ejects anything in a cluster of 1-3 hosts; ejecting the only host of a priority is
  // what moves traffic to the failover priority.
  max_ejection_percent: 100,
  interval: '5s',
  base_ejection_time: '30s',
};

export const LLM_CIRCUIT_BREAKERS: JsonObject = {
  thresholds: [
    {
      priority: 'DEFAULT',
      // The default of 3 concurrent retries per cluster is far too few for long LLM requests.
      retry_budget: { budget_percent: { value: 25 }, min_retry_concurrency: 10 },
    },
  ],
};

/**
 * Upstream filters of an LLM cluster. They run once per attempt, after the host is chosen: the only place that
 * knows which backend this attempt goes to. upstream_codec must be last.
 */
export function llmUpstreamFilters(
  config: ServiceConfig,
  options: { authority?: string; requestAttributes?: readonly string[] } = {},
): JsonValue[] {
  const filter = extProcFilter(UPSTREAM_EXT_PROC_FILTER, config, 'upstream', options.authority);
  if (options.requestAttributes)
    (filter.typed_config as JsonObject).request_attributes = [...options.requestAttributes];
  return [
    filter,
    {
      name: 'envoy.filters.http.upstream_codec',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' },
    },
  ];
}

/** The HTTP/2 cluster both ext_proc filters call; several targets are several replicas; mutual TLS when given. */
export function extprocCluster(targets: readonly string[], tls?: ExtprocClientTls): JsonObject {
  const addresses = targets.map(extprocAddress);
  const firstTcp = targets.find((t) => !t.startsWith('unix:'));
  // A DNS name (e.g. a Kubernetes Service) is resolved and re-resolved; IP literals and sockets are static.
  const dns = addresses.some(
    (a) => 'socket_address' in a && !isIpLiteral(String((a.socket_address as { address: string }).address)),
  );
  return {
    name: EXT_PROC_CLUSTER,
    type: dns ? 'STRICT_DNS' : 'STATIC',
    ...(dns ? { dns_lookup_family: 'V4_PREFERRED' } : {}),
    connect_timeout: '1s',
    // Provider credentials and tenant identities cross this connection (docs/envoy.md, "Securing the ext_proc port").
    ...(tls
      ? {
          transport_socket: extprocTransportSocket(
            tls,
            firstTcp === undefined ? undefined : splitHostPort(firstTcp).host,
          ),
        }
      : {}),
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
        // Without graceful close (ENVOY_RUNTIME in bootstrap.ts: Envoy < 1.34, or a sidecar without the flag) Envoy
        // resets every ext_proc stream, and Node's HTTP/2 server answers ~1,000 resets on one connection with GOAWAY
        // (nghttp2's rapid-reset guard), failing streams in flight. A fresh connection every 500 streams keeps each
        // connection under that burst (2.4 % of 42,000 requests failed without it, 0 with it: bench/soak.ts).
        common_http_protocol_options: { max_requests_per_connection: EXT_PROC_STREAMS_PER_CONNECTION },
        // ext_proc is gRPC: HTTP/2. Keepalive notices a dead service within seconds.
        explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
      },
    },
    // The service's gRPC health (grpc.health.v1) follows its readiness and turns NOT_SERVING when it drains, so
    // Envoy stops opening streams to a replica that is shutting down.
    health_checks: [
      {
        // One slow check under load must not mark a replica unhealthy: two failures do (≤ ~4 s for a drain).
        timeout: '2s',
        interval: '1s',
        // The 60 s default applies until the cluster has seen traffic: a quiet gateway must notice a drain as fast.
        no_traffic_interval: '1s',
        unhealthy_threshold: 2,
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
          // Stream-open retries (EXT_PROC_STREAM_RETRY) under load: the default of 3 concurrent retries overflowed.
          max_retries: 1000,
        },
      ],
    },
    load_assignment: {
      cluster_name: EXT_PROC_CLUSTER,
      endpoints: [{ lb_endpoints: addresses.map((address) => ({ endpoint: { address } })) }],
    },
  };
}
