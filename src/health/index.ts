// Wiring for the service: the monitor, the router-stage tap and the prober, on one ConfigStore.
import type { ConfigStore } from '../config/store.js';
import type { ResolvedBackend } from '../config/topology.js';
import { HealthMonitor, type Publisher } from './monitor.js';
import { startProber } from './probe.js';
import { healthTap } from './tap.js';

export interface RunningHealth {
  readonly monitor: HealthMonitor;
  /** Connects the verdicts to a publisher (the xDS control plane). */
  attach(publisher: Publisher | undefined): void;
  view(): unknown;
  close(): Promise<void>;
}

export function startHealth(store: ConfigStore): RunningHealth {
  const monitor = new HealthMonitor({ config: () => store.current().config.health, topology: () => store.current().topology });
  healthTap.install(monitor);
  const prober = startProber({
    monitor,
    config: () => store.current().config.health,
    backends: () => {
      const seen = new Map<string, { backend: ResolvedBackend; model: string; upstreamModel: string }>();
      for (const route of store.current().topology.routes.values()) {
        for (const e of route.endpoints) {
          if (!e.backend.disabledReason && !seen.has(e.backend.name)) seen.set(e.backend.name, { backend: e.backend, model: route.model, upstreamModel: e.upstreamModel });
        }
      }
      return [...seen.values()];
    },
  });
  const ticker = setInterval(() => monitor.tick(), 1000);
  ticker.unref();
  return {
    monitor,
    attach: (publisher) => monitor.attach(publisher),
    view: () => monitor.view(),
    close: async () => {
      clearInterval(ticker);
      prober.close();
      healthTap.uninstall(monitor);
    },
  };
}
