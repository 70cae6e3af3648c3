// Pure: which endpoint of a route serves the next attempt, the way Envoy's cluster load balancer does with the
// retry plugins in filters.ts (ROUTE_RETRY_POLICY, LLM_CLUSTER_LB):
//   * an endpoint whose backend is disabled is UNHEALTHY (what our xDS server pushes as health_status);
//   * priority load: health(P) = min(100, overprovisioning_factor × healthy/total), lower priorities first,
//     the rest spills to the next priority (intro/arch_overview/upstream/load_balancing/priority);
//   * no healthy endpoint → no host → 503 (Envoy would enter panic mode; the generated bootstrap leaves disabled
//     backends out instead, so a real Envoy never balances over them);
//   * retry_priority previous_priorities (update_frequency 1): priorities already tried get no load, unless
//     that leaves none, then all count again;
//   * retry_host_predicate previous_hosts: hosts already tried are avoided while another healthy one exists;
//   * within a priority, endpoints are chosen by weight (weighted random; Envoy's round robin uses EDF
//     scheduling with the same long-run shares).
import type { RouteEndpoint } from '../config/topology.js';
import { LLM_CLUSTER_LB } from './filters.js';

export interface PickerState {
  readonly attemptedPriorities: Set<number>;
  readonly attemptedHosts: Set<string>;
}

export function newPickerState(): PickerState {
  return { attemptedPriorities: new Set(), attemptedHosts: new Set() };
}

export function endpointHealthy(endpoint: RouteEndpoint): boolean {
  return endpoint.backend.disabledReason === undefined;
}

/** The identity previous_hosts compares: one endpoint per backend in a route. */
export function hostKey(endpoint: RouteEndpoint): string {
  return endpoint.backend.name;
}

export interface PriorityLevel {
  readonly priority: number;
  readonly healthy: number;
  readonly total: number;
}

/** LoadBalancerBase::recalculatePriorityLoad for healthy hosts only (no degraded hosts here). Percent per level. */
export function priorityLoads(
  levels: readonly PriorityLevel[],
  overprovisioningFactor: number,
  excluded: ReadonlySet<number> = new Set(),
): number[] {
  const health = levels.map((l) =>
    excluded.has(l.priority) || l.total === 0
      ? 0
      : Math.min(100, Math.floor((overprovisioningFactor * l.healthy) / l.total)),
  );
  const normalizedTotal = Math.min(
    100,
    health.reduce((a, b) => a + b, 0),
  );
  if (normalizedTotal === 0) return levels.map(() => 0);
  let remaining = 100;
  const loads = health.map((h) => {
    const load = Math.min(remaining, Math.floor((h * 100) / normalizedTotal));
    remaining -= load;
    return load;
  });
  // Rounding leftovers go to the first level that has health.
  const first = health.findIndex((h) => h > 0);
  if (remaining > 0 && first >= 0) loads[first] = (loads[first] ?? 0) + remaining;
  return loads;
}

function levelsOf(endpoints: readonly RouteEndpoint[]): PriorityLevel[] {
  const byPriority = new Map<number, { healthy: number; total: number }>();
  for (const e of endpoints) {
    const level = byPriority.get(e.priority) ?? { healthy: 0, total: 0 };
    level.total += 1;
    if (endpointHealthy(e)) level.healthy += 1;
    byPriority.set(e.priority, level);
  }
  return [...byPriority.entries()].sort(([a], [b]) => a - b).map(([priority, l]) => ({ priority, ...l }));
}

function weightedChoice(candidates: readonly RouteEndpoint[], random: () => number): RouteEndpoint | undefined {
  const total = candidates.reduce((sum, e) => sum + e.weight, 0);
  let point = random() * total;
  for (const e of candidates) {
    point -= e.weight;
    if (point < 0) return e;
  }
  return candidates[candidates.length - 1];
}

/** Chooses the endpoint for the next attempt and records it in `state`; undefined = no healthy upstream. */
export function pickEndpoint(
  endpoints: readonly RouteEndpoint[],
  state: PickerState,
  random: () => number = Math.random,
): RouteEndpoint | undefined {
  const levels = levelsOf(endpoints);
  const factor = LLM_CLUSTER_LB.load_assignment.policy.overprovisioning_factor;
  let loads = priorityLoads(levels, factor, state.attemptedPriorities);
  if (loads.every((l) => l === 0)) {
    // previous_priorities: when every priority with healthy hosts was tried, start over.
    state.attemptedPriorities.clear();
    loads = priorityLoads(levels, factor);
  }
  if (loads.every((l) => l === 0)) return undefined;

  let point = random() * 100;
  let index = loads.findIndex((load) => {
    point -= load;
    return point < 0;
  });
  if (index < 0) index = loads.findLastIndex((l) => l > 0);
  const level = levels[index];
  if (level === undefined) return undefined;

  const healthy = endpoints.filter((e) => e.priority === level.priority && endpointHealthy(e));
  const untried = healthy.filter((e) => !state.attemptedHosts.has(hostKey(e)));
  const chosen = weightedChoice(untried.length > 0 ? untried : healthy, random);
  if (chosen === undefined) return undefined;
  state.attemptedPriorities.add(chosen.priority);
  state.attemptedHosts.add(hostKey(chosen));
  return chosen;
}
