// The Envoy configuration the local data plane reproduces, written as data in Envoy's own YAML field names so a
// test can compare it with envoy/envoy.yaml. The data plane derives its behaviour from these objects (see
// `filterSpec`), so editing them here changes what it does.
//
// Values that come from the service config instead of being fixed (dataPlane.*):
//   ext_proc message_timeout           ← messageTimeoutMs
//   per_connection_buffer_limit_bytes  ← bufferLimitBytes
//   route timeout                      ← routeTimeoutMs
//   retry_policy.num_retries           ← numRetries
//   retry_policy.retriable_status_codes← retriableStatusCodes
import {
  BACKEND_ATTRIBUTE,
  EXT_PROC_FILTER_NAME,
  METADATA_NAMESPACE,
  PRINCIPAL_ATTRIBUTE,
  ROUTE_HEADER,
  STAGE_METADATA_KEY,
  type Stage,
} from '../extproc/contract.js';
import { effectiveModes, type EffectiveModes, type ProcessingModeConfig } from './processing-mode.js';

export const EXT_PROC_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';

/** Name of the static HTTP/2 cluster that reaches llm-extproc in envoy/envoy.yaml. */
export const EXT_PROC_CLUSTER = 'llm-extproc';

export interface ExtProcFilterConfig {
  readonly name: typeof EXT_PROC_FILTER_NAME;
  readonly typed_config: {
    readonly '@type': typeof EXT_PROC_TYPE_URL;
    readonly grpc_service: {
      readonly envoy_grpc: { readonly cluster_name: string };
      readonly initial_metadata: readonly { readonly key: string; readonly value: string }[];
    };
    readonly processing_mode: ProcessingModeConfig;
    readonly allow_mode_override: boolean;
    readonly failure_mode_allow: boolean;
    readonly metadata_options: { readonly receiving_namespaces: { readonly untyped: readonly string[] } };
    readonly request_attributes?: readonly string[];
    /** The upstream stage removes client x-envoy-* headers before a request leaves; Envoy ignores that without allow_envoy. */
    readonly mutation_rules?: { readonly allow_envoy: boolean };
  };
}

/** Router-level filter in the HTTP connection manager, before envoy.filters.http.router. */
export const ROUTER_EXT_PROC_FILTER: ExtProcFilterConfig = {
  name: EXT_PROC_FILTER_NAME,
  typed_config: {
    '@type': EXT_PROC_TYPE_URL,
    grpc_service: {
      envoy_grpc: { cluster_name: EXT_PROC_CLUSTER },
      initial_metadata: [{ key: STAGE_METADATA_KEY, value: 'router' }],
    },
    processing_mode: {
      request_header_mode: 'SEND',
      response_header_mode: 'SEND',
      request_body_mode: 'BUFFERED',
      response_body_mode: 'BUFFERED',
      request_trailer_mode: 'SKIP',
      response_trailer_mode: 'SKIP',
    },
    allow_mode_override: true,
    failure_mode_allow: false,
    metadata_options: { receiving_namespaces: { untyped: [METADATA_NAMESPACE] } },
    // No mTLS in front of the data plane, so this attribute is never present here (it is in Envoy).
    request_attributes: [PRINCIPAL_ATTRIBUTE],
  },
};

/**
 * Upstream filter on every LLM cluster (HttpProtocolOptions.http_filters, before envoy.filters.http.upstream_codec).
 * One Process stream per upstream attempt, after the host is chosen.
 */
export const UPSTREAM_EXT_PROC_FILTER: ExtProcFilterConfig = {
  name: EXT_PROC_FILTER_NAME,
  typed_config: {
    '@type': EXT_PROC_TYPE_URL,
    grpc_service: {
      envoy_grpc: { cluster_name: EXT_PROC_CLUSTER },
      initial_metadata: [{ key: STAGE_METADATA_KEY, value: 'upstream' }],
    },
    processing_mode: {
      request_header_mode: 'SEND',
      response_header_mode: 'SEND',
      request_body_mode: 'BUFFERED',
      response_body_mode: 'NONE',
      request_trailer_mode: 'SKIP',
      response_trailer_mode: 'SKIP',
    },
    allow_mode_override: false,
    failure_mode_allow: false,
    metadata_options: { receiving_namespaces: { untyped: [METADATA_NAMESPACE] } },
    request_attributes: [BACKEND_ATTRIBUTE],
    mutation_rules: { allow_envoy: true },
  },
};

/**
 * How Envoy ends a Process stream once the HTTP stream is done with it. The generated bootstrap turns on the runtime
 * flag `envoy.reloadable_features.ext_proc_graceful_grpc_close` (src/envoyconfig/bootstrap.ts, off by default in
 * Envoy 1.40): Envoy half-closes and waits up to `remoteCloseTimeoutMs` for the server's status, then resets. Error
 * paths (message_timeout, rejected or spurious answers) still close at once. src/dataplane/parity/stream-order.test.ts
 * checks both against Envoy and that this matches the bootstrap.
 */
export const EXT_PROC_STREAM_CLOSE = {
  runtimeFlag: 'envoy.reloadable_features.ext_proc_graceful_grpc_close',
  graceful: true,
  /** envoy.filters.http.ext_proc.remote_close_timeout_milliseconds, default 1000. */
  remoteCloseTimeoutMs: 1_000,
} as const;

/** The route's retry policy (num_retries and retriable_status_codes come from settings). */
export const ROUTE_RETRY_POLICY = {
  // refused-stream: an HTTP/2 provider refused the stream before processing it (always safe to retry).
  retry_on: 'connect-failure,refused-stream,reset,retriable-status-codes',
  retry_host_predicate: [
    {
      name: 'envoy.retry_host_predicates.previous_hosts',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
      },
    },
  ],
  host_selection_retry_max_attempts: 5,
  retry_priority: {
    name: 'envoy.retry_priorities.previous_priorities',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
      update_frequency: 1,
    },
  },
  retry_back_off: { base_interval: '0.025s', max_interval: '0.250s' },
} as const;

/** Back-off between retries in milliseconds (Envoy's default base 25 ms, max 10× base, full jitter). */
export const RETRY_BACK_OFF_MS = { base: 25, max: 250 } as const;

/**
 * Load-balancing settings of each LLM cluster. Envoy's default panic threshold (50 %) stays: a cluster whose only
 * host outlier detection ejected keeps trying it rather than answering 503 "no healthy upstream" for the whole
 * ejection time (confirmed on Envoy 1.40: with a threshold of 0 a single-provider model failed every request for
 * 30 s after three provider 5xx). `load_assignment.policy` carries the overprovisioning factor (Envoy's default 140).
 */
export const LLM_CLUSTER_LB = {
  lb_policy: 'ROUND_ROBIN',
  common_lb_config: {},
  load_assignment: { policy: { overprovisioning_factor: 140 } },
} as const;

/** Route for one model: exact match on the routing header the router stage sets, then the model's cluster. */
export function modelRoute(cluster: string): {
  readonly match: {
    readonly prefix: '/';
    readonly headers: readonly [{ readonly name: string; readonly string_match: { readonly exact: string } }];
  };
  readonly route: { readonly cluster: string; readonly auto_host_rewrite: true };
} {
  return {
    match: { prefix: '/', headers: [{ name: ROUTE_HEADER, string_match: { exact: cluster } }] },
    route: { cluster, auto_host_rewrite: true },
  };
}

/**
 * Last route of the virtual host: answers requests that match no model. The same body and header as the
 * generated bootstrap's `llm.unrouted` route (src/envoyconfig/bootstrap.ts); the parity suite compares what a client
 * gets from both (src/dataplane/parity/routing.test.ts).
 */
export const CATCH_ALL_ROUTE = {
  match: { prefix: '/' },
  direct_response: {
    status: 404,
    body: {
      inline_string: JSON.stringify({
        error: {
          message: 'no LLM route was selected for this request',
          type: 'invalid_request_error',
          param: null,
          code: 'route_not_selected',
        },
      }),
    },
  },
  response_headers_to_add: [
    { header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ],
} as const;

// ---------------------------------------------------------------------------------------------------------------
// What the data plane actually runs, derived from the data above.

export interface FilterSpec {
  readonly stage: Stage;
  /** Configured as an upstream HTTP filter (clear_route_cache ignored, immediate_response unsupported ≤ 1.37). */
  readonly upstream: boolean;
  readonly modes: EffectiveModes;
  readonly allowModeOverride: boolean;
  readonly failureModeAllow: boolean;
  readonly receivingNamespaces: readonly string[];
  readonly requestAttributes: readonly string[];
  readonly initialMetadata: readonly { readonly key: string; readonly value: string }[];
}

export function filterSpec(config: ExtProcFilterConfig, upstream: boolean): FilterSpec {
  const c = config.typed_config;
  const stageEntry = c.grpc_service.initial_metadata.find((m) => m.key === STAGE_METADATA_KEY);
  const stage: Stage = stageEntry?.value === 'upstream' ? 'upstream' : 'router';
  return {
    stage,
    upstream,
    modes: effectiveModes(c.processing_mode),
    allowModeOverride: c.allow_mode_override,
    failureModeAllow: c.failure_mode_allow,
    receivingNamespaces: c.metadata_options.receiving_namespaces.untyped,
    requestAttributes: c.request_attributes ?? [],
    initialMetadata: c.grpc_service.initial_metadata,
  };
}

export const ROUTER_FILTER_SPEC = filterSpec(ROUTER_EXT_PROC_FILTER, false);
export const UPSTREAM_FILTER_SPEC = filterSpec(UPSTREAM_EXT_PROC_FILTER, true);
