// Wiring for the service: the monitor, the router-stage tap and the prober, on one ConfigStore.
import type { ConfigStore } from '../config/store.js';
import type { Accounting } from '../extproc/budget-gate.js';
import type { ResolvedBackend } from '../config/topology.js';
import { HealthMonitor, type BackendHealthSummary, type EndpointHealth, type Publisher } from './monitor.js';
import { startProber } from './probe.js';
import { healthTap } from './tap.js';
import { RedisStore } from '../budget/redis-store.js';
import { sharePins } from './shared-pins.js';

export interface RunningHealth {
  readonly monitor: HealthMonitor;
  /** Connects the verdicts to a publisher (the xDS control plane). */
  attach(publisher: Publisher | undefined): void;
  view(): unknown;
  /** Admin GET /backends: the config view of each backend with its `health` (score, failures, published, pin). */
  backendsView<B extends { readonly name: string }>(config: {
    backends: readonly B[];
  }): { backends: Array<B & { health: BackendHealthSummary | undefined }> };
  /**
   * Admin POST /backends/<name>/pin|drain|restore: the backend's new health (with `shared`: whether every replica
   * gets it through Redis), or undefined for an unknown name.
   */
  operate(backend: string, action: OperatorAction): Promise<(BackendHealthSummary & { shared: boolean }) | undefined>;
  close(): Promise<void>;
}

export type OperatorAction =
  | {
      readonly kind: 'pin';
      readonly state: EndpointHealth;
      readonly weight: number | undefined;
      readonly reason: string | undefined;
    }
  | { readonly kind: 'restore' };

export interface HealthOptions {
  /** The budgets, when configured (probes of paid backends, the probe budget). */
  readonly accounting?: () => Accounting | undefined;
}

export function startHealth(store: ConfigStore, options: HealthOptions = {}): RunningHealth {
  // The prober is created after the monitor; until then nothing is covered by probes.
  let covers: (backend: string) => boolean = () => false;
  const monitor = new HealthMonitor({
    config: () => store.current().config.health,
    topology: () => store.current().topology,
    probed: (b) => covers(b),
  });
  healthTap.install(monitor);
  // Scores, states and pins live in the monitor, not the config: a reload keeps them (a removed backend's pin goes).
  const onReload = (outcome: { ok: boolean }) => {
    if (outcome.ok) monitor.reconfigured();
  };
  store.on('reload', onReload);
  const prober = startProber({
    monitor,
    ...(options.accounting ? { accounting: options.accounting } : {}),
    config: () => store.current().config.health,
    backends: () => {
      const seen = new Map<string, { backend: ResolvedBackend; model: string; upstreamModel: string }>();
      for (const route of store.current().topology.routes.values()) {
        for (const e of route.endpoints) {
          if (!e.backend.disabledReason && !seen.has(e.backend.name))
            seen.set(e.backend.name, { backend: e.backend, model: route.model, upstreamModel: e.upstreamModel });
        }
      }
      return [...seen.values()];
    },
  });
  covers = (backend) => prober.covers(backend);
  // With a Redis budget store, pins are shared by every replica (src/health/shared-pins.ts).
  const pins = sharePins({
    monitor,
    store: () => {
      const accounting = options.accounting?.();
      const budgetStore = accounting?.budgets.store;
      if (!accounting || !(budgetStore instanceof RedisStore) || accounting.config.store.kind !== 'redis')
        return undefined;
      return { client: budgetStore.redis, keyPrefix: accounting.config.store.keyPrefix };
    },
  });
  const ticker = setInterval(() => monitor.tick(), 1000);
  ticker.unref();
  return {
    monitor,
    attach: (publisher) => monitor.attach(publisher),
    view: () => monitor.view(),
    backendsView: (config) => {
      const summary = monitor.summary();
      return { backends: config.backends.map((b) => ({ ...b, health: summary.get(b.name) })) };
    },
    operate: async (backend, action) => {
      const known =
        action.kind === 'pin'
          ? monitor.pin(backend, action.state, action.weight, action.reason)
          : monitor.restore(backend);
      if (!known) return undefined;
      const shared = await pins.write(backend, monitor.pinOf(backend));
      const summary = monitor.summary().get(backend);
      return summary ? { ...summary, shared } : undefined;
    },
    close: async () => {
      clearInterval(ticker);
      store.off('reload', onReload);
      pins.close();
      prober.close();
      healthTap.uninstall(monitor);
    },
  };
}
