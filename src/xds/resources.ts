// What the control plane publishes, as data: the LLM clusters (CDS) and their endpoints (EDS) for a service config,
// the resolved provider addresses and each backend's current weight and health. Pure: inputs in, resources out.
// The clusters are the static bootstrap's (src/envoyconfig/bootstrap.ts) switched to EDS, so filters, TLS and
// retries cannot differ between the two ways of running Envoy.
import type { ServiceConfig } from '../config/schema.js';
import { DEFAULT_CA_FILE, llmCluster } from '../envoyconfig/bootstrap.js';
import type { JsonObject } from '../util/json.js';
import { ENDPOINT_BACKEND_KEY, METADATA_NAMESPACE } from '../extproc/contract.js';

export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';

export type EndpointHealth = 'HEALTHY' | 'UNHEALTHY' | 'DEGRADED' | 'DRAINING';

/** What the verdicts say about one backend right now. */
export interface BackendState {
  /** Relative share within its priority, ≥ 1 (Envoy NACKs 0: take a backend out with health instead). */
  readonly weight: number;
  readonly health: EndpointHealth;
}

export interface PublishInput {
  readonly config: ServiceConfig;
  /** Backends that cannot serve where Envoy runs (credentials missing): left out of EDS. */
  readonly disabledBackends: ReadonlySet<string>;
  /** IP addresses of a host (EDS accepts only IP literals); empty while unresolved. */
  readonly addresses: (host: string) => readonly string[];
  /** Verdict state per backend; absent = the config's weight, healthy. */
  readonly state: (backend: string) => BackendState | undefined;
  /** Panic threshold of the LLM clusters in percent (explicit, so a verdict that empties a level is deliberate). */
  readonly panicThresholdPercent?: number;
  readonly caFile?: string;
  /** Also publish one Listener per model (`llm.<model>`) for proxyless gRPC clients (target `xds:///llm.<model>`). */
  readonly grpcListeners?: boolean;
}

export interface Resources {
  readonly clusters: ReadonlyMap<string, JsonObject>;
  readonly loadAssignments: ReadonlyMap<string, JsonObject>;
  readonly listeners: ReadonlyMap<string, JsonObject>;
}

/** An API listener as gRPC's xDS client wants it: an HCM with an inline route to the cluster, router filter last. */
function grpcListener(cluster: string): JsonObject {
  return {
    name: cluster,
    api_listener: {
      api_listener: {
        '@type':
          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: cluster,
        route_config: {
          name: cluster,
          virtual_hosts: [{ name: cluster, domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster } }] }],
        },
        http_filters: [
          {
            name: 'router',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
          },
        ],
      },
    },
  };
}

interface StaticEndpoint {
  endpoint: { address: { socket_address: { address: string; port_value: number } }; hostname: string };
  load_balancing_weight: number;
  metadata: { filter_metadata: Record<string, Record<string, string>> };
}

export function buildResources(input: PublishInput): Resources {
  const clusters = new Map<string, JsonObject>();
  const loadAssignments = new Map<string, JsonObject>();
  const listeners = new Map<string, JsonObject>();
  for (const route of input.config.routes) {
    // The static cluster with every backend (disabled ones are published UNHEALTHY rather than left out).
    const {
      load_assignment: staticAssignment,
      type: _type,
      dns_lookup_family: _dns,
      common_lb_config,
      ...rest
    } = llmCluster(route, input.config, input.caFile ?? DEFAULT_CA_FILE, new Set()) as JsonObject & {
      load_assignment: {
        cluster_name: string;
        endpoints: { priority: number; lb_endpoints: StaticEndpoint[] }[];
        policy: JsonObject;
      };
    };
    const name = staticAssignment.cluster_name;
    if (input.grpcListeners) listeners.set(name, grpcListener(name));
    clusters.set(name, {
      ...rest,
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
      common_lb_config: {
        ...(common_lb_config as JsonObject),
        // Each backend is its own locality; grpc clients honour only locality weights, Envoy needs this to use them.
        locality_weighted_lb_config: {},
        healthy_panic_threshold: { value: input.panicThresholdPercent ?? 50 },
      },
      // A host that disappears from EDS is removed at once, even while health checks still pass it (envoy #11527).
      ignore_health_on_host_removal: true,
    });
    const localities = staticAssignment.endpoints.flatMap((level) =>
      level.lb_endpoints.flatMap((endpoint) => {
        const backend = endpoint.metadata.filter_metadata[METADATA_NAMESPACE]?.[ENDPOINT_BACKEND_KEY] ?? '';
        // Left out, as in the static bootstrap: published UNHEALTHY, a backend without credentials would push its
        // priority under the panic threshold and Envoy would balance over it anyway (seen through Envoy 1.40).
        if (input.disabledBackends.has(backend)) return [];
        const state = input.state(backend);
        const health: EndpointHealth = state?.health ?? 'HEALTHY';
        const { address, port_value } = endpoint.endpoint.address.socket_address;
        return [
          {
            configuredPriority: level.priority,
            health,
            locality: {
              locality: { sub_zone: backend },
              load_balancing_weight: Math.max(1, Math.round(state?.weight ?? endpoint.load_balancing_weight)),
              lb_endpoints: input.addresses(address).map((ip) => ({
                endpoint: {
                  address: { socket_address: { address: ip, port_value } },
                  hostname: endpoint.endpoint.hostname,
                },
                health_status: health,
                metadata: endpoint.metadata,
              })),
            },
          },
        ];
      }),
    );
    loadAssignments.set(name, {
      cluster_name: name,
      endpoints: withPublishedPriorities(localities).map((l) => ({ ...l.locality, priority: l.priority })),
      policy: staticAssignment.policy,
    });
  }
  return { clusters, loadAssignments, listeners };
}

/**
 * EDS priorities for a route's backends. A backend the verdicts (or an operator) took out — UNHEALTHY or DRAINING —
 * moves to a last priority of its own: Envoy's panic threshold is judged per priority, so left among the others it
 * would, once most of a priority is out, put that priority in panic mode and send traffic to every host, the
 * judged ones included (seen through Envoy 1.40: two of three UNHEALTHY got two thirds of the requests). In a
 * priority of their own they are used only when nothing healthy is left anywhere, as panic intends. Levels are
 * renumbered from 0 without gaps (gRPC clients reject sparse priorities); their order is the config's.
 */
export function withPublishedPriorities<
  T extends { readonly configuredPriority: number; readonly health: EndpointHealth },
>(localities: readonly T[]): Array<T & { readonly priority: number }> {
  const isOut = (health: EndpointHealth): boolean => health === 'UNHEALTHY' || health === 'DRAINING';
  const levels = [...new Set(localities.filter((l) => !isOut(l.health)).map((l) => l.configuredPriority))].sort(
    (a, b) => a - b,
  );
  return localities.map((l) => ({
    ...l,
    priority: isOut(l.health) ? levels.length : levels.indexOf(l.configuredPriority),
  }));
}
