// The resolved view of a config: which backends are usable (their key variables are set) and, per client model,
// the endpoints Envoy balances over. Pure: config + environment in, topology out. The router stage, the upstream
// stage and the local data plane all read this one view, so they cannot disagree about a route.
import type { BackendConfig, ProviderKind, ServiceConfig } from './schema.js';
import { Secret } from '../util/secret.js';

export interface ResolvedBackend {
  readonly name: string;
  readonly provider: ProviderKind;
  readonly baseUrl: URL;
  readonly apiKeyHeader: string;
  readonly apiKey: Secret | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Why the backend cannot serve (e.g. its key variable is unset); undefined when it can. */
  readonly disabledReason: string | undefined;
}

export interface RouteEndpoint {
  readonly backend: ResolvedBackend;
  /** Model name sent to this backend. */
  readonly upstreamModel: string;
  readonly priority: number;
  readonly weight: number;
}

export interface ResolvedRoute {
  /** The model name clients send. */
  readonly model: string;
  /** Envoy cluster that serves this route; the router stage sets ROUTE_HEADER to this value. */
  readonly cluster: string;
  readonly endpoints: readonly RouteEndpoint[];
}

export interface Topology {
  readonly backends: ReadonlyMap<string, ResolvedBackend>;
  readonly routes: ReadonlyMap<string, ResolvedRoute>;
  /**
   * Every header name any backend sets (credentials and static headers). Envoy hands a retry the headers the
   * previous attempt's rewrite left, so an attempt removes the ones its own backend does not set.
   */
  readonly backendHeaderNames: ReadonlySet<string>;
}

export type Environment = Readonly<Record<string, string | undefined>>;

export function clusterNameForModel(model: string): string {
  return `llm.${model}`;
}

function resolveBackend(backend: BackendConfig, env: Environment): ResolvedBackend {
  const keyValue = backend.apiKeyEnv === undefined ? undefined : env[backend.apiKeyEnv];
  const missingKey = backend.apiKeyEnv !== undefined && (keyValue === undefined || keyValue === '');
  return {
    name: backend.name,
    provider: backend.provider,
    baseUrl: new URL(backend.baseUrl),
    apiKeyHeader: backend.apiKeyHeader,
    apiKey: keyValue ? new Secret(keyValue) : undefined,
    headers: backend.headers,
    disabledReason: missingKey ? `environment variable ${backend.apiKeyEnv} is not set` : undefined,
  };
}

export function resolveTopology(config: ServiceConfig, env: Environment): Topology {
  const backends = new Map(config.backends.map((b) => [b.name, resolveBackend(b, env)]));
  const priorities = new Map(config.backends.map((b) => [b.name, b.priority]));
  const routes = new Map<string, ResolvedRoute>();
  for (const route of config.routes) {
    const endpoints: RouteEndpoint[] = route.backends.map((ref) => {
      const backend = backends.get(ref.backend);
      // The schema rejects unknown backend names, so this only fires on a programming error.
      if (!backend) throw new Error(`route ${route.model} names unknown backend ${ref.backend}`);
      return {
        backend,
        upstreamModel: ref.model ?? route.model,
        priority: ref.priority ?? priorities.get(ref.backend) ?? 0,
        weight: ref.weight,
      };
    });
    routes.set(route.model, { model: route.model, cluster: clusterNameForModel(route.model), endpoints });
  }
  const backendHeaderNames = new Set<string>();
  for (const backend of backends.values()) {
    backendHeaderNames.add(backend.apiKeyHeader);
    for (const name of Object.keys(backend.headers)) backendHeaderNames.add(name.toLowerCase());
  }
  return { backends, routes, backendHeaderNames };
}

/** Endpoints that can serve now, i.e. whose backend is enabled. */
export function usableEndpoints(route: ResolvedRoute): RouteEndpoint[] {
  return route.endpoints.filter((e) => e.backend.disabledReason === undefined);
}
