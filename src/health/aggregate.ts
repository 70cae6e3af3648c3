// From each backend's own state to what Envoy is told, route by route, with the panic rule:
//   a route must keep at least one backend Envoy may use. When every enabled backend of a route (all priorities)
//   would be UNHEALTHY, the route's priority-0 backend with the lowest score is published DEGRADED instead ("held"):
//   Envoy sends traffic to DEGRADED hosts only when no HEALTHY host can take it, so it serves until a failover
//   recovers. If another priority still has a usable backend (a failover exists), priority 0 may be emptied.
// A backend held for one route is held everywhere (its EDS state is per backend).
import type { BackendHealth } from './score.js';

export interface RouteView {
  readonly model: string;
  readonly endpoints: ReadonlyArray<{ readonly backend: string; readonly priority: number; readonly enabled: boolean }>;
}

export interface BackendView {
  readonly state: BackendHealth;
  readonly score: number;
}

export interface Published {
  readonly health: BackendHealth;
  /** Held in by the panic rule although its own state is UNHEALTHY. */
  readonly held: boolean;
}

export function publishedStates(
  backends: ReadonlyMap<string, BackendView>,
  routes: readonly RouteView[],
): Map<string, Published> {
  const out = new Map<string, Published>();
  for (const [name, view] of backends) out.set(name, { health: view.state, held: false });
  for (const route of routes) {
    const enabled = route.endpoints.filter((e) => e.enabled);
    if (enabled.length === 0) continue;
    const usable = enabled.some((e) => (out.get(e.backend)?.health ?? 'HEALTHY') !== 'UNHEALTHY');
    if (usable) continue;
    const lowest = Math.min(...enabled.map((e) => e.priority));
    const candidates = enabled.filter((e) => e.priority === lowest);
    const best = candidates.reduce((a, b) =>
      (backends.get(b.backend)?.score ?? 0) < (backends.get(a.backend)?.score ?? 0) ? b : a,
    );
    out.set(best.backend, { health: 'DEGRADED', held: true });
  }
  return out;
}
