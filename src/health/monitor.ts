// Holds each backend's score, state and last verdicts; turns observations (checked responses, probes) into state
// changes and publishes them (the xDS control plane's setBackendState). The decisions are the pure modules'
// (checks, baseline, score, aggregate); this class only keeps their state between calls.
import type { Topology } from '../config/topology.js';
import type { ChatRequest } from '../unified/chat-request.js';
import { EMPTY_BASELINE, judgeLatency, type LatencyBaselines, type LatencySample } from './baseline.js';
import { runChecks, type CheckResult } from './checks.js';
import { checksFor, type CheckName, type HealthConfig } from './config.js';
import { publishedStates, type Published, type RouteView } from './aggregate.js';
import { healthMetrics } from './metrics.js';
import type { ObservedCompletion } from './observe.js';
import { halfOpen, INITIAL_SCORE, observe, type BackendHealth, type ScoreState } from './score.js';

export type VerdictCheck = CheckName | 'probe';

export interface Verdict {
  readonly backend: string;
  readonly model: string;
  readonly check: VerdictCheck;
  readonly pass: boolean;
  readonly detail: string;
  readonly source: 'response' | 'probe';
  /** Unix ms. */
  readonly at: number;
}

/** What the control plane is told; undefined restores the config's weight and HEALTHY. */
export type PublishedState = { weight: number; health: 'HEALTHY' | 'UNHEALTHY' | 'DEGRADED' | 'DRAINING' } | undefined;
export type Publisher = (backend: string, state: PublishedState) => void;

interface BackendRecord {
  score: ScoreState;
  /** Unix ms of the last change of its own state. */
  changedAt: number;
  verdicts: Verdict[];
  published: Published;
}

const STATES: readonly BackendHealth[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY'];

export interface MonitorOptions {
  readonly config: () => HealthConfig;
  readonly topology: () => Topology;
  readonly now?: () => number;
}

export class HealthMonitor {
  readonly #backends = new Map<string, BackendRecord>();
  readonly #latency = new Map<string, LatencyBaselines>();
  #publisher: Publisher | undefined;

  constructor(private readonly options: MonitorOptions) {}

  get config(): HealthConfig {
    return this.options.config();
  }

  /** Sends every current non-HEALTHY state at once (a control plane that starts after the monitor). */
  attach(publisher: Publisher | undefined): void {
    this.#publisher = publisher;
    if (!publisher) return;
    for (const [backend, record] of this.#backends) if (record.published.health !== 'HEALTHY') publisher(backend, this.#stateFor(backend, record.published.health));
  }

  /** A 200 response the router stage saw: runs the route's checks, then scores the backend. */
  observeResponse(backend: string, request: ChatRequest, observed: ObservedCompletion, latency: LatencySample): Verdict[] {
    const config = this.options.config();
    const enabled = checksFor(config, request.model);
    const results: CheckResult[] = runChecks(request, observed, enabled, config);
    if (enabled.has('latency') && observed.stream) {
      const key = `${backend}\u0000${request.model}`;
      const outcome = judgeLatency(this.#latency.get(key) ?? { ttft: EMPTY_BASELINE, tps: EMPTY_BASELINE }, latency, config.latency);
      this.#latency.set(key, outcome.next);
      if (outcome.pass !== undefined) results.push({ check: 'latency', pass: outcome.pass, detail: outcome.detail });
    }
    return this.record(backend, request.model, results, 'response');
  }

  /** Scores one observation made of these results (one response, or one probe). */
  record(backend: string, model: string, results: readonly { check: VerdictCheck; pass: boolean; detail: string }[], source: Verdict['source']): Verdict[] {
    if (results.length === 0) return [];
    const config = this.options.config();
    const at = (this.options.now ?? Date.now)();
    const verdicts = results.map((r) => ({ backend, model, check: r.check, pass: r.pass, detail: r.detail, source, at }));
    const failed = verdicts.filter((v) => !v.pass);
    // Latency alone is a soft signal (0.5); any content failure counts fully.
    const failure = failed.length === 0 ? 0 : failed.every((v) => v.check === 'latency') ? 0.5 : 1;
    const record = this.#backends.get(backend) ?? { score: INITIAL_SCORE, changedAt: at, verdicts: [], published: { health: 'HEALTHY' as const, held: false } };
    this.#backends.set(backend, record);
    const before = record.score.state;
    record.score = observe(record.score, failure, config.score);
    if (record.score.state !== before) record.changedAt = at;
    record.verdicts.push(...verdicts);
    if (record.verdicts.length > config.score.keepVerdicts) record.verdicts.splice(0, record.verdicts.length - config.score.keepVerdicts);
    for (const v of verdicts) healthMetrics.verdicts.inc({ backend, check: v.check, result: v.pass ? 'pass' : 'fail' });
    healthMetrics.score.set({ backend }, record.score.score);
    this.#republish();
    return verdicts;
  }

  /**
   * Called every second or so: without probes, UNHEALTHY backends get a half-open trial after
   * score.halfOpenAfterMs (with probes, their verdicts decide recovery).
   */
  tick(): void {
    const config = this.options.config();
    if (!config.enabled || config.probes.enabled) return;
    const now = (this.options.now ?? Date.now)();
    let changed = false;
    for (const record of this.#backends.values()) {
      if (record.score.state !== 'UNHEALTHY' || now - record.changedAt < config.score.halfOpenAfterMs) continue;
      record.score = halfOpen(record.score, config.score);
      record.changedAt = now;
      changed = true;
    }
    if (changed) this.#republish();
  }

  /** Backends whose own state is not HEALTHY (probes may target only these). */
  state(backend: string): BackendHealth {
    return this.#backends.get(backend)?.score.state ?? 'HEALTHY';
  }

  #routes(): RouteView[] {
    return [...this.options.topology().routes.values()].map((r) => ({
      model: r.model,
      endpoints: r.endpoints.map((e) => ({ backend: e.backend.name, priority: e.priority, enabled: !e.backend.disabledReason })),
    }));
  }

  #stateFor(backend: string, health: BackendHealth): PublishedState {
    if (health === 'HEALTHY') return undefined;
    // EDS state is per backend; keep the weight the config gives it on its first route (never 0: Envoy NACKs it).
    let weight = 1;
    for (const route of this.options.topology().routes.values()) {
      const endpoint = route.endpoints.find((e) => e.backend.name === backend);
      if (endpoint) {
        weight = Math.max(1, endpoint.weight);
        break;
      }
    }
    return { weight, health };
  }

  #republish(): void {
    const views = new Map([...this.#backends].map(([name, r]) => [name, { state: r.score.state, score: r.score.score }]));
    const next = publishedStates(views, this.#routes());
    for (const [backend, record] of this.#backends) {
      const published = next.get(backend) ?? { health: 'HEALTHY' as const, held: false };
      for (const s of STATES) healthMetrics.state.set({ backend, state: s }, s === published.health ? 1 : 0);
      const changed = published.health !== record.published.health;
      record.published = published;
      if (changed) this.#publisher?.(backend, this.#stateFor(backend, published.health));
    }
  }

  /** Admin GET /health/backends: no secrets, only names, scores, states and verdict details. */
  view(): unknown {
    const backends: Record<string, unknown> = {};
    for (const name of this.options.topology().backends.keys()) {
      const record = this.#backends.get(name);
      backends[name] = {
        score: record?.score.score ?? 0,
        state: record?.score.state ?? 'HEALTHY',
        published: record?.published.health ?? 'HEALTHY',
        heldByPanicRule: record?.published.held ?? false,
        observations: record?.score.observations ?? 0,
        cleanStreak: record?.score.cleanStreak ?? 0,
        probation: record?.score.probation ?? false,
        lastVerdicts: (record?.verdicts ?? []).map((v) => ({ ...v, at: new Date(v.at).toISOString() })),
      };
    }
    return { backends };
  }
}
