// Istio EnvoyFilter manifests for a service config: `llm-extproc istio-manifests` prints them, and envoy/istio/*.yaml
// are its output for the embedded default config. The filters and the llm-extproc cluster are the same blocks the
// bootstrap generator uses (blocks.ts); only what Istio needs differently is added here (docs/envoy.md, "Istio").
import { Document } from 'yaml';
import type { ServiceConfig } from '../config/schema.js';
import { backendBaseUrl } from '../config/topology.js';
import {
  BACKEND_ATTRIBUTE,
  CLUSTER_BACKEND_ATTRIBUTE,
  ENDPOINT_BACKEND_KEY,
  METADATA_NAMESPACE,
} from '../extproc/contract.js';
import { ROUTER_EXT_PROC_FILTER } from '../dataplane/filters.js';
import { buildResources } from '../xds/resources.js';
import { dynamicModelRoute, XDS_CLUSTER, xdsCluster } from './bootstrap.js';
import {
  extProcFilter,
  extprocCluster,
  HTTP_PROTOCOL_OPTIONS,
  LLM_CIRCUIT_BREAKERS,
  LLM_OUTLIER_DETECTION,
  llmCommonLbConfig,
  llmUpstreamFilters,
} from './blocks.js';
import type { JsonObject } from '../util/json.js';

export interface IstioOptions {
  /** Namespace of the gateway and of the EnvoyFilters. Default llm-gateway. */
  readonly namespace?: string;
  /** Labels of the gateway deployment the filters apply to. Default app=llm-gateway. */
  readonly selector?: Readonly<Record<string, string>>;
  /** The llm-extproc Service (host:port). Default llm-extproc.<namespace>.svc.cluster.local:50051. */
  readonly extproc?: string;
  /**
   * How the gateway reaches llm-extproc. `mesh` (default): Istio mutual TLS with the gateway's workload certificate
   * and the mesh root from Istio's SDS (`default`, `ROOTCA` over the proxy's `sds-grpc` cluster), insisting on
   * llm-extproc's identity; the llm-extproc pod's sidecar terminates it (docs/envoy.md, "Securing the ext_proc
   * port"). `insecure`: plaintext (the ext_proc connection carries provider credentials: avoid).
   */
  readonly extprocTransport?: 'mesh' | 'insecure';
  /** llm-extproc's SPIFFE identity for `mesh`. Default spiffe://cluster.local/ns/<namespace>/sa/llm-extproc. */
  readonly extprocIdentity?: string;
  /**
   * Opt-in: the service's xDS control plane (host:port). Adds llm-clusters.yaml: the `llm-xds` cluster, one EDS
   * cluster `llm.<model>` per route (endpoints, weights and health from the service) and the route to them.
   */
  readonly xds?: string;
  /** The control plane's SPIFFE identity (mesh mTLS to llm-xds). Default: extprocIdentity (the same pod). */
  readonly xdsIdentity?: string;
  /** `insecure`: plaintext to the control plane (it publishes every provider endpoint: avoid). Default `mesh`. */
  readonly xdsTransport?: 'mesh' | 'insecure';
}

/** Istio's SDS as its proxies see it: the `sds-grpc` cluster every istio-proxy bootstrap defines. */
export const ISTIO_SDS_CLUSTER = 'sds-grpc';

function istioSdsSecret(name: string): JsonObject {
  return {
    name,
    sds_config: {
      api_config_source: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: ISTIO_SDS_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      resource_api_version: 'V3',
    },
  };
}

/** Istio mutual TLS from our own cluster, as Istio's generated outbound clusters do it (ISTIO_MUTUAL). */
function istioMutualTls(sni: string, identity: string): JsonObject {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni,
      common_tls_context: {
        alpn_protocols: ['istio-peer-exchange', 'istio', 'h2'],
        tls_certificate_sds_secret_configs: [istioSdsSecret('default')],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: identity } }],
          },
          validation_context_sds_secret_config: istioSdsSecret('ROOTCA'),
        },
      },
    },
  };
}

export interface IstioManifest {
  /** File name under envoy/istio/. */
  readonly file: string;
  /** Header comment: what the manifest does and why. */
  readonly comment: string;
  readonly document: JsonObject;
}

type Scope = Required<Pick<IstioOptions, 'namespace' | 'selector'>>;

function envoyFilter(name: string, options: Scope, configPatches: JsonObject[]): JsonObject {
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name, namespace: options.namespace },
    spec: { workloadSelector: { labels: { ...options.selector } }, configPatches },
  };
}

/** Istio's egress TLS-origination pattern: HTTPS providers are reached through a ServiceEntry port 80. */
function serviceEntryPort(url: URL): number {
  if (url.protocol === 'https:') return 80;
  return url.port ? Number(url.port) : 80;
}

export function istioManifests(config: ServiceConfig, given: IstioOptions = {}): IstioManifest[] {
  const namespace = given.namespace ?? 'llm-gateway';
  const options: Required<Omit<IstioOptions, 'xds' | 'xdsIdentity' | 'xdsTransport'>> = {
    namespace,
    selector: given.selector ?? { app: 'llm-gateway' },
    extproc: given.extproc ?? `llm-extproc.${namespace}.svc.cluster.local:50051`,
    extprocTransport: given.extprocTransport ?? 'mesh',
    extprocIdentity: given.extprocIdentity ?? `spiffe://cluster.local/ns/${namespace}/sa/llm-extproc`,
  };
  const authority = options.extproc.slice(0, options.extproc.lastIndexOf(':'));

  const router = envoyFilter('llm-extproc-router', options, [
    {
      applyTo: 'HTTP_FILTER',
      match: {
        context: 'GATEWAY',
        listener: {
          filterChain: {
            filter: {
              name: 'envoy.filters.network.http_connection_manager',
              subFilter: { name: 'envoy.filters.http.router' },
            },
          },
        },
      },
      patch: { operation: 'INSERT_BEFORE', value: extProcFilter(ROUTER_EXT_PROC_FILTER, config, 'router', authority) },
    },
    {
      applyTo: 'LISTENER',
      match: { context: 'GATEWAY' },
      patch: { operation: 'MERGE', value: { per_connection_buffer_limit_bytes: config.dataPlane.bufferLimitBytes } },
    },
  ]);

  const cluster = envoyFilter('llm-extproc-cluster', options, [
    {
      applyTo: 'CLUSTER',
      match: { context: 'GATEWAY' },
      patch: {
        operation: 'ADD',
        value:
          options.extprocTransport === 'mesh'
            ? {
                ...extprocCluster([options.extproc]),
                transport_socket: istioMutualTls(authority, options.extprocIdentity),
              }
            : extprocCluster([options.extproc]),
      },
    },
  ]);

  // One Istio cluster per provider host: the backend is named in the cluster metadata (Istio owns the endpoint
  // metadata), and the upstream stage falls back to that attribute.
  const byHost = new Map<string, { backend: string; port: number }>();
  for (const backend of config.backends) {
    const url = new URL(backendBaseUrl(backend));
    if (!byHost.has(url.hostname)) byHost.set(url.hostname, { backend: backend.name, port: serviceEntryPort(url) });
  }
  const upstream = envoyFilter(
    'llm-extproc-upstream',
    options,
    [...byHost].map(([host, { backend, port }]) => ({
      applyTo: 'CLUSTER',
      match: { context: 'GATEWAY', cluster: { service: host, portNumber: port } },
      patch: {
        operation: 'MERGE',
        value: {
          metadata: { filter_metadata: { [METADATA_NAMESPACE]: { [ENDPOINT_BACKEND_KEY]: backend } } },
          common_lb_config: llmCommonLbConfig(),
          outlier_detection: LLM_OUTLIER_DETECTION,
          circuit_breakers: LLM_CIRCUIT_BREAKERS,
          // Istio's MERGE replaces this map entry whole, so it restates what Istio generates for an HTTP port.
          typed_extension_protocol_options: {
            [HTTP_PROTOCOL_OPTIONS]: {
              '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`,
              common_http_protocol_options: { idle_timeout: '60s' },
              explicit_http_config: { http_protocol_options: {} },
              http_filters: llmUpstreamFilters(config, {
                authority,
                requestAttributes: [BACKEND_ATTRIBUTE, CLUSTER_BACKEND_ATTRIBUTE],
              }),
            },
          },
        },
      },
    })),
  );

  const backendsPerHost = config.backends.length - byHost.size;
  const xds =
    given.xds === undefined
      ? []
      : [
          llmClustersManifest(
            config,
            options,
            authority,
            given.xds,
            given.xdsTransport ?? 'mesh',
            given.xdsIdentity ?? options.extprocIdentity,
          ),
        ];
  return [
    {
      file: 'extproc-router-filter.yaml',
      comment: `Istio: the router-level ext_proc (stage "router") on the gateway, just before envoy.filters.http.router — the
same filter as the generated bootstrap. Routing: a VirtualService bound to the gateway matches the header
x-llm-extproc-route (llm.<model>) and must end with a catch-all route (docs/envoy.md, "Istio"). The LISTENER
merge sizes the connection buffer for BUFFERED bodies (dataPlane.bufferLimitBytes).`,
      document: router,
    },
    {
      file: 'extproc-cluster.yaml',
      comment: `Istio: the HTTP/2 cluster both ext_proc stages call, with gRPC health checks, stream-open retries and a fresh
connection every 500 streams (docs/envoy.md). Our own cluster rather than Istio's outbound|50051||…: Istio
cluster names contain "|", which must never become the gRPC :authority.${
        options.extprocTransport === 'mesh'
          ? `\nIstio mutual TLS (the gateway's workload certificate from Istio's SDS), accepting only ${options.extprocIdentity}:
provider credentials cross this connection. llm-extproc's sidecar terminates it (docs/envoy.md).`
          : `\nPLAINTEXT (--extproc-insecure): provider credentials cross this connection unencrypted.`
      }`,
      document: cluster,
    },
    {
      file: 'llm-upstream-filter.yaml',
      comment: `Istio: the upstream ext_proc (stage "upstream") on each provider cluster Istio builds from a ServiceEntry
(HTTPS providers: port 80 with TLS origination by a DestinationRule). Istio owns the endpoint metadata, so
the backend is named in the cluster metadata and requested as a second attribute.${
        backendsPerHost > 0 ? `\nSeveral backends share a host here; each host's cluster names the first of them.` : ''
      }`,
      document: upstream,
    },
    ...xds,
  ];
}

/** The name the VirtualService's catch-all route must have: the `--xds` route goes just before it (docs/envoy.md). */
export const ISTIO_CATCH_ALL_ROUTE = 'llm.unrouted';

/**
 * `--xds`: the LLM clusters of the plain-Envoy ADS mode, in the mesh. The clusters are the control plane's CDS
 * resources (buildResources: the same filters, TLS, LB and outlier settings), with EDS over our own `llm-xds`
 * cluster instead of `ads: {}` (a mesh proxy's ADS is istiod), and the upstream filter's :authority as above.
 */
function llmClustersManifest(
  config: ServiceConfig,
  options: Scope,
  extprocAuthority: string,
  address: string,
  transport: 'mesh' | 'insecure',
  identity: string,
): IstioManifest {
  const host = address.slice(0, address.lastIndexOf(':'));
  const xdsCl = xdsCluster(address, undefined);
  const resources = buildResources({
    config,
    disabledBackends: new Set(),
    addresses: () => [],
    state: () => undefined,
  });
  const edsConfig: JsonObject = {
    api_config_source: {
      api_type: 'DELTA_GRPC',
      transport_api_version: 'V3',
      grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
      set_node_on_first_message_only: true,
    },
    resource_api_version: 'V3',
  };
  const clusters = [...resources.clusters.values()].map((cluster) => {
    const protocol = (cluster.typed_extension_protocol_options as JsonObject)[HTTP_PROTOCOL_OPTIONS] as JsonObject;
    return {
      ...cluster,
      eds_cluster_config: { eds_config: edsConfig },
      typed_extension_protocol_options: {
        [HTTP_PROTOCOL_OPTIONS]: {
          ...protocol,
          http_filters: llmUpstreamFilters(config, { authority: extprocAuthority }),
        },
      },
    };
  });
  const document = envoyFilter('llm-extproc-llm-clusters', options, [
    {
      applyTo: 'CLUSTER',
      match: { context: 'GATEWAY' },
      patch: {
        operation: 'ADD',
        value: transport === 'mesh' ? { ...xdsCl, transport_socket: istioMutualTls(host, identity) } : xdsCl,
      },
    },
    ...clusters.map((value) => ({
      applyTo: 'CLUSTER',
      match: { context: 'GATEWAY' },
      patch: { operation: 'ADD', value },
    })),
    {
      applyTo: 'HTTP_ROUTE',
      match: { context: 'GATEWAY', routeConfiguration: { vhost: { route: { name: ISTIO_CATCH_ALL_ROUTE } } } },
      patch: { operation: 'INSERT_BEFORE', value: dynamicModelRoute(config) },
    },
  ]);
  return {
    file: 'llm-clusters.yaml',
    comment: `Istio (--xds): the LLM clusters from llm-extproc's xDS control plane at ${address}, as in the plain-Envoy ADS
mode: one EDS cluster llm.<model> per route (weights and health follow the semantic-health verdicts), fetched
over our own HTTP/2 cluster llm-xds (delta xDS; not ADS: the gateway's ADS is istiod)${
      transport === 'mesh'
        ? ` with Istio mutual TLS, accepting only
${identity}`
        : `, in PLAINTEXT (--xds-insecure)`
    }. The HTTP_ROUTE patch routes x-llm-extproc-route
llm.* to the cluster it names, just before the VirtualService's catch-all route ${ISTIO_CATCH_ALL_ROUTE}, which
must exist. Validated by Envoy 1.40, not yet tried on a live Istio (docs/envoy.md, "Istio").`,
    document,
  };
}

/** One manifest as YAML, with its header comment and where it came from. */
export function istioYaml(manifest: IstioManifest, source?: string): string {
  const doc = new Document(manifest.document, { aliasDuplicateObjects: false });
  const header = `${manifest.comment}\nGenerated by \`llm-extproc istio-manifests\`${source ? ` from ${source}` : ''}; do not edit.`;
  doc.commentBefore = ' ' + header.replaceAll('\n', '\n ');
  return doc.toString({ lineWidth: 0 });
}
