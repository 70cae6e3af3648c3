// Pure: the route table of envoy/envoy.yaml's virtual host, evaluated against request headers.
// One route per model (`modelRoute`: header ROUTE_HEADER exact = the route's cluster), then the catch-all
// direct response. Envoy picks the route when the request headers arrive and keeps it unless a filter clears
// the route cache (then the next lookup re-evaluates the table against the current headers).
import { ROUTE_HEADER } from '../extproc/contract.js';
import type { ResolvedRoute, Topology } from '../config/topology.js';
import { CATCH_ALL_ROUTE, modelRoute } from './filters.js';
import { getJoined, type HeaderList } from './headers.js';

export type RouteDecision =
  | { readonly kind: 'cluster'; readonly route: ResolvedRoute }
  | { readonly kind: 'direct'; readonly status: number; readonly body: string; readonly headers: HeaderList };

export function selectRoute(headers: HeaderList, topology: Topology): RouteDecision {
  const value = getJoined(headers, ROUTE_HEADER);
  if (value !== undefined) {
    for (const route of topology.routes.values()) {
      const [matcher] = modelRoute(route.cluster).match.headers;
      if (matcher.name === ROUTE_HEADER && matcher.string_match.exact === value) return { kind: 'cluster', route };
    }
  }
  const { direct_response: direct, response_headers_to_add: toAdd } = CATCH_ALL_ROUTE;
  return {
    kind: 'direct',
    status: direct.status,
    body: direct.body.inline_string,
    headers: toAdd.map(({ header }) => [header.key, header.value]),
  };
}
