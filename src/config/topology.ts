// The resolved view of a config: which backends are usable (their credentials are set) and, per client model,
// the endpoints Envoy balances over. Pure: config + environment in, topology out. The router stage, the upstream
// stage and the local data plane all read this one view, so they cannot disagree about a route.
import type { BackendConfig, ServiceConfig } from './schema.js';
import { credentialsFromEnvironment } from '../credentials/index.js';
import type { BackendCredentials } from '../credentials/types.js';
import { backendRules, type ProviderKind } from '../providers/apis.js';

/** A backend ready to serve: its credentials (BackendCredentials) are resolved by src/credentials. */
export interface ResolvedBackend extends BackendCredentials {
  readonly name: string;
  readonly provider: ProviderKind;
  /** The backend's config entry, narrowed by `provider` for provider-specific options. */
  readonly config: BackendConfig;
  /** Base URL with the provider's default filled in. */
  readonly baseUrl: URL;
  /** Header carrying apiKey, with the provider's default filled in. */
  readonly apiKeyHeader: string;
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
  /** What happens to request fields this backend cannot honour (route entry > route > backend). */
  readonly unsupportedParams: 'reject' | 'drop';
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

/** The backend's base URL, with the provider's default filled in. */
export function backendBaseUrl(backend: BackendConfig): string {
  const baseUrl = backend.baseUrl ?? backendRules(backend.provider).defaultBaseUrl(backend);
  // The schema requires baseUrl where there is no default, so this only fires on a programming error.
  if (!baseUrl) throw new Error(`backend ${backend.name} has no base URL`);
  return baseUrl;
}

function resolveBackend(backend: BackendConfig, env: Environment): ResolvedBackend {
  const rules = backendRules(backend.provider);
  const { missing, ...credentials } = credentialsFromEnvironment(
    backend.apiKeyEnv,
    rules.credentials?.(backend) ?? [],
    env,
  );
  const baseUrl = backendBaseUrl(backend);
  return {
    name: backend.name,
    provider: backend.provider,
    config: backend,
    baseUrl: new URL(baseUrl),
    apiKeyHeader: backend.apiKeyHeader ?? rules.apiKeyHeader,
    ...credentials,
    headers: backend.headers,
    disabledReason:
      missing.length === 0
        ? undefined
        : `environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
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
        unsupportedParams: ref.unsupportedParams ?? route.unsupportedParams ?? backend.config.unsupportedParams,
      };
    });
    routes.set(route.model, { model: route.model, cluster: clusterNameForModel(route.model), endpoints });
  }
  const backendHeaderNames = new Set<string>();
  for (const backend of backends.values()) {
    backendHeaderNames.add(backend.apiKeyHeader);
    for (const name of Object.keys(backend.headers)) backendHeaderNames.add(name);
  }
  return { backends, routes, backendHeaderNames };
}

/** Endpoints that can serve now, i.e. whose backend is enabled. */
export function usableEndpoints(route: ResolvedRoute): RouteEndpoint[] {
  return route.endpoints.filter((e) => e.backend.disabledReason === undefined);
}

/** One backend as the admin `GET /backends` shows it: no credentials, only whether they are there. */
export interface BackendView {
  readonly name: string;
  readonly provider: ProviderKind;
  readonly baseUrl: string;
  readonly enabled: boolean;
  /** Why the backend cannot serve (names the unset variables, never their values). */
  readonly disabledReason?: string;
  /** Client models routed to this backend. */
  readonly models: readonly string[];
}

export function backendsView(topology: Topology): { backends: BackendView[] } {
  const models = new Map<string, string[]>();
  for (const route of topology.routes.values()) {
    for (const endpoint of route.endpoints)
      models.set(endpoint.backend.name, [...(models.get(endpoint.backend.name) ?? []), route.model]);
  }
  const backends = [...topology.backends.values()].map((b): BackendView => {
    // The base URL without userinfo or query (a query may carry a key, e.g. Gemini's ?key=).
    const url = new URL(b.baseUrl.href);
    url.username = '';
    url.password = '';
    url.search = '';
    return {
      name: b.name,
      provider: b.provider,
      baseUrl: url.href,
      enabled: b.disabledReason === undefined,
      ...(b.disabledReason === undefined ? {} : { disabledReason: b.disabledReason }),
      models: models.get(b.name) ?? [],
    };
  });
  return { backends };
}
