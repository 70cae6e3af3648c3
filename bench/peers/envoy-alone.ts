// The baseline Envoy of the peers bench: the smallest bootstrap that proxies to the mock, in the same shape as
// src/envoyconfig/bootstrap.ts builds (a listener with the HTTP connection manager and the router, one STATIC
// cluster over HTTP/1.1) but no ext_proc, no retries, no access log. What Envoy itself costs on this path.

import type { JsonObject } from '../../src/util/json.js';

export const ENVOY_ALONE_LISTENER = 'plain_ingress';
const CLUSTER = 'mock_upstream';

const socketAddress = (host: string, port: number): JsonObject => ({
  socket_address: { address: host, port_value: port },
});

export function envoyAloneBootstrap(upstreamPort: number): JsonObject {
  return {
    node: { id: 'bench-envoy-alone', cluster: 'bench-envoy-alone' },
    admin: { address: socketAddress('127.0.0.1', 0) },
    static_resources: {
      listeners: [
        {
          name: ENVOY_ALONE_LISTENER,
          address: socketAddress('127.0.0.1', 0),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: ENVOY_ALONE_LISTENER,
                    codec_type: 'AUTO',
                    route_config: {
                      name: 'plain_routes',
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: CLUSTER, timeout: '300s' } }],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: CLUSTER,
          type: 'STATIC',
          connect_timeout: '5s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', upstreamPort) } }] }],
          },
        },
      ],
    },
  };
}
