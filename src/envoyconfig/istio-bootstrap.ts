// Envoy cannot validate an Istio EnvoyFilter: it only knows bootstraps. This places each patch of the shipped
// manifests where Istio would apply it — an HTTP filter before the router, an added cluster, a merge into a
// provider cluster, a route inserted before the VirtualService's catch-all, an added virtual host — inside a
// minimal bootstrap, so `envoy --mode validate` checks every patch value.
import { isRecord } from '../util/json.js';

type Rec = Record<string, unknown>;

const ROUTER_FILTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};

function providerCluster(name: string): Rec {
  return {
    name,
    type: 'STRICT_DNS',
    connect_timeout: '5s',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'localhost', port_value: 80 } } } }] },
      ],
    },
  };
}

/** A STATIC cluster speaking HTTP/2 (gRPC) to one address, as the stubs below need. */
function grpcStaticCluster(name: string, address: Rec): Rec {
  return {
    name,
    type: 'STATIC',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
  };
}

function extprocStub(): Rec {
  return grpcStaticCluster('llm-extproc', { socket_address: { address: '127.0.0.1', port_value: 50051 } });
}

/** Stands in for the sds-grpc cluster of an istio-proxy bootstrap (a pipe to the Istio agent). */
function sdsStub(): Rec {
  return grpcStaticCluster('sds-grpc', { pipe: { path: './var/run/secrets/workload-spiffe-uds/socket' } });
}

/** A bootstrap holding every patch of the given EnvoyFilter documents. */
export function bootstrapWithPatches(manifests: readonly unknown[]): Rec {
  const httpFilters: unknown[] = [];
  const listenerMerges: Rec[] = [];
  const clusters: Rec[] = [];
  const routesBefore: Rec[] = [];
  const routesAfter: Rec[] = [];
  const virtualHosts: Rec[] = [];
  let mergedClusters = 0;
  for (const manifest of manifests) {
    const patches =
      isRecord(manifest) && isRecord(manifest.spec) && Array.isArray(manifest.spec.configPatches)
        ? manifest.spec.configPatches
        : [];
    for (const patch of patches) {
      if (!isRecord(patch) || !isRecord(patch.patch)) continue;
      const value = patch.patch.value;
      if (!isRecord(value)) continue;
      if (patch.applyTo === 'HTTP_FILTER') httpFilters.push(value);
      else if (patch.applyTo === 'LISTENER') listenerMerges.push(value);
      else if (patch.applyTo === 'CLUSTER' && patch.patch.operation === 'ADD') clusters.push(value);
      else if (patch.applyTo === 'CLUSTER')
        clusters.push({ ...providerCluster(`merged-${mergedClusters++}`), ...value });
      // Routes land around the VirtualService's catch-all (the stand-in below); virtual hosts next to its own.
      else if (patch.applyTo === 'HTTP_ROUTE')
        (patch.patch.operation === 'INSERT_AFTER' ? routesAfter : routesBefore).push(value);
      else if (patch.applyTo === 'VIRTUAL_HOST') virtualHosts.push(value);
    }
  }
  if (!clusters.some((c) => c.name === 'llm-extproc')) clusters.push(extprocStub());
  // Istio's proxies define sds-grpc (the agent's SDS socket); patches may take certificates from it.
  if (JSON.stringify(clusters).includes('"cluster_name":"sds-grpc"')) clusters.push(sdsStub());
  const listener: Rec = {
    name: 'gateway',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'gateway',
              route_config: {
                virtual_hosts: [
                  // Stands in for the VirtualService's routes: its catch-all, named as docs/envoy.md's example names it.
                  {
                    name: 'all',
                    domains: ['*'],
                    routes: [
                      ...routesBefore,
                      { name: 'llm.unrouted', match: { prefix: '/' }, direct_response: { status: 404 } },
                      ...routesAfter,
                    ],
                  },
                  ...virtualHosts,
                ],
              },
              http_filters: [...httpFilters, ROUTER_FILTER],
            },
          },
        ],
      },
    ],
  };
  return {
    // istio-proxy always has a node identity (SDS subscriptions require one).
    node: { id: 'router~10.0.0.1~gateway.llm-gateway~llm-gateway.svc.cluster.local', cluster: 'llm-gateway' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: { listeners: [Object.assign(listener, ...listenerMerges)], clusters },
  };
}
