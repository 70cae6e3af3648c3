// The outer shape of an Istio EnvoyFilter (networking.istio.io/v1alpha3) and the Envoy message type each
// `applyTo` patches. Only `patch.value` is Envoy config; the rest is Istio's own API, checked with zod.
import { z } from 'zod';

export const APPLY_TO_TYPES = {
  LISTENER: 'envoy.config.listener.v3.Listener',
  FILTER_CHAIN: 'envoy.config.listener.v3.FilterChain',
  NETWORK_FILTER: 'envoy.config.listener.v3.Filter',
  HTTP_FILTER: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  LISTENER_FILTER: 'envoy.config.listener.v3.ListenerFilter',
  ROUTE_CONFIGURATION: 'envoy.config.route.v3.RouteConfiguration',
  VIRTUAL_HOST: 'envoy.config.route.v3.VirtualHost',
  HTTP_ROUTE: 'envoy.config.route.v3.Route',
  CLUSTER: 'envoy.config.cluster.v3.Cluster',
  EXTENSION_CONFIG: 'envoy.config.core.v3.TypedExtensionConfig',
  BOOTSTRAP: 'envoy.config.bootstrap.v3.Bootstrap',
} as const;

export type ApplyTo = keyof typeof APPLY_TO_TYPES;
const APPLY_TO = Object.keys(APPLY_TO_TYPES) as [ApplyTo, ...ApplyTo[]];

const LISTENER_CLASS: readonly string[] = [
  'LISTENER',
  'FILTER_CHAIN',
  'NETWORK_FILTER',
  'HTTP_FILTER',
  'LISTENER_FILTER',
];
const ROUTE_CLASS: readonly string[] = ['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE'];

const str = z.string().optional();
const port = z.number().int().min(0).max(65535).optional();

const listenerMatch = z.strictObject({
  portNumber: port,
  portName: str,
  name: str,
  listenerFilter: str,
  filterChain: z
    .strictObject({
      name: str,
      sni: str,
      transportProtocol: str,
      applicationProtocols: str,
      destinationPort: port,
      filter: z.strictObject({ name: str, subFilter: z.strictObject({ name: str }).optional() }).optional(),
    })
    .optional(),
});

const routeConfigurationMatch = z.strictObject({
  portNumber: port,
  portName: str,
  gateway: str,
  name: str,
  vhost: z
    .strictObject({
      name: str,
      domainName: str,
      route: z
        .strictObject({ name: str, action: z.enum(['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE']).optional() })
        .optional(),
    })
    .optional(),
});

const clusterMatch = z.strictObject({ portNumber: port, service: str, subset: str, name: str });

const configPatch = z
  .strictObject({
    applyTo: z.enum(APPLY_TO),
    match: z
      .strictObject({
        context: z.enum(['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY']).optional(),
        proxy: z.strictObject({ proxyVersion: str, metadata: z.record(z.string(), z.string()).optional() }).optional(),
        listener: listenerMatch.optional(),
        routeConfiguration: routeConfigurationMatch.optional(),
        cluster: clusterMatch.optional(),
      })
      .optional(),
    patch: z.strictObject({
      operation: z.enum(['MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE']),
      value: z.unknown().optional(),
      filterClass: z.enum(['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS']).optional(),
    }),
  })
  // The same consistency rules istioctl/istiod validation applies.
  .superRefine((cp, ctx) => {
    const m = cp.match;
    const wrongMatch =
      (LISTENER_CLASS.includes(cp.applyTo) && (m?.routeConfiguration || m?.cluster)) ||
      (ROUTE_CLASS.includes(cp.applyTo) && (m?.listener || m?.cluster)) ||
      (cp.applyTo === 'CLUSTER' && (m?.listener || m?.routeConfiguration));
    if (wrongMatch)
      ctx.addIssue({
        code: 'custom',
        path: ['match'],
        message: `applyTo ${cp.applyTo} cannot use this kind of match (listener/routeConfiguration/cluster)`,
      });
    if (cp.patch.operation !== 'REMOVE' && cp.patch.value === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['patch', 'value'],
        message: `operation ${cp.patch.operation} needs a value`,
      });
    }
    if (cp.patch.operation === 'REPLACE' && !['HTTP_FILTER', 'NETWORK_FILTER'].includes(cp.applyTo)) {
      ctx.addIssue({
        code: 'custom',
        path: ['patch', 'operation'],
        message: 'REPLACE is only valid for HTTP_FILTER and NETWORK_FILTER',
      });
    }
  });

export const envoyFilterSchema = z.strictObject({
  apiVersion: z.literal('networking.istio.io/v1alpha3'),
  kind: z.literal('EnvoyFilter'),
  metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().min(1).optional() }),
  spec: z.strictObject({
    workloadSelector: z.strictObject({ labels: z.record(z.string(), z.string()) }).optional(),
    targetRefs: z.array(z.strictObject({ group: str, kind: z.string(), name: z.string() })).optional(),
    priority: z.number().int().optional(),
    configPatches: z.array(configPatch).min(1),
  }),
});
