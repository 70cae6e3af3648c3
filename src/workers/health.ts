// Semantic health across ext_proc workers: each worker runs the checks on the responses it sees (the verdict goes
// into that request's access-log metadata at once) and forwards the results; the primary's HealthMonitor scores
// them, publishes states to xDS and runs the probes, as in a single process. Latency baselines are per worker:
// each learns from its share of the traffic, which Envoy's connections spread evenly, so a backend slower than
// its own history is still flagged (each baseline needs the usual warm-up samples).
import type { ConfigStore } from '../config/store.js';
import type { LatencyBaselines, LatencySample } from '../health/baseline.js';
import type { CheckResult } from '../health/checks.js';
import type { HealthConfig } from '../health/config.js';
import { checkResponse, toVerdicts, type Verdict } from '../health/monitor.js';
import type { ObservedCompletion } from '../health/observe.js';
import type { ResponseObserver } from '../health/tap.js';
import type { ChatRequest } from '../unified/chat-request.js';

export class ForwardingObserver implements ResponseObserver {
  readonly #baselines = new Map<string, LatencyBaselines>();

  constructor(
    private readonly store: ConfigStore,
    private readonly forward: (backend: string, model: string, results: CheckResult[]) => void,
  ) {}

  get config(): HealthConfig {
    return this.store.current().config.health;
  }

  observeResponse(
    backend: string,
    request: ChatRequest,
    observed: ObservedCompletion,
    latency: LatencySample,
  ): Verdict[] {
    const results = checkResponse(this.config, this.#baselines, backend, request, observed, latency);
    if (results.length === 0) return [];
    this.forward(backend, request.model, results);
    return toVerdicts(backend, request.model, results, 'response', Date.now());
  }
}
