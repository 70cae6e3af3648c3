// The wire contract between llm-extproc, Envoy's configuration (envoy/*.yaml) and the local data plane.
// Every name that must match on both sides lives here, once.

/** gRPC initial metadata key Envoy's grpc_service.initial_metadata sets to tell the two filter instances apart. */
export const STAGE_METADATA_KEY = 'x-llm-extproc-stage';
export type Stage = 'router' | 'upstream';

/** Request header the router stage sets (with clear_route_cache) so Envoy's route table picks the model's cluster. */
export const ROUTE_HEADER = 'x-llm-extproc-route';

/** Response header the upstream stage adds so the router stage knows which backend produced the response. */
export const BACKEND_HEADER = 'x-llm-extproc-backend';

/**
 * Response header the upstream stage adds (with :status 502) when a provider rejected the gateway's credentials
 * (401/403): 502 is retriable, so Envoy fails over; the router stage turns the answer into
 * `upstream_authentication_failed` and strips the header. The value is the provider's status.
 */
export const UPSTREAM_AUTH_HEADER = 'x-llm-extproc-upstream-auth';

/** Response header naming the request fields a lenient backend dropped (unsupportedParams: drop), comma-separated. */
export const DROPPED_PARAMS_HEADER = 'x-llm-extproc-dropped-params';

/** Namespace of our dynamic metadata and of the endpoint filter_metadata that names a backend. */
export const METADATA_NAMESPACE = 'llm-extproc';

/** Key inside the endpoint filter_metadata[METADATA_NAMESPACE] holding the backend name. */
export const ENDPOINT_BACKEND_KEY = 'backend';

/** The ext_proc filter name; Envoy keys ProcessingRequest.attributes by it. */
export const EXT_PROC_FILTER_NAME = 'envoy.filters.http.ext_proc';

/** The CEL expression in the upstream filter's request_attributes that yields the chosen endpoint's backend. */
export const BACKEND_ATTRIBUTE = `xds.upstream_host_metadata.filter_metadata['${METADATA_NAMESPACE}']['${ENDPOINT_BACKEND_KEY}']`;

/**
 * Fallback for meshes that own endpoint metadata (Istio writes its own): the backend named in the cluster's
 * metadata, for clusters that hold one backend each.
 */
export const CLUSTER_BACKEND_ATTRIBUTE = `xds.cluster_metadata.filter_metadata['${METADATA_NAMESPACE}']['${ENDPOINT_BACKEND_KEY}']`;

/** Router-level request_attributes entry: the calling workload's mesh identity (mTLS peer), for budgets. */
export const PRINCIPAL_ATTRIBUTE = 'source.principal';

/** Envoy's request id header; errors and logs carry it. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** The gRPC service the ext_proc listener serves; also the name Envoy's gRPC health checker asks about. */
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor';
