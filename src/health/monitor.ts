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

export type EndpointHealth = 'HEALTHY' | 'UNHEALTHY' | 'DEGRADED' | 'DRAINING';

/** What the control plane is told; undefined restores the config's weight and HEALTHY. */
export type PublishedState = { weight: number; health: EndpointHealth } | undefined;
export type Publisher = (backend: string, state: PublishedState) => void;

/**
 * An operator's pin (admin POST /backends/<name>/pin|drain): published instead of the verdicts until restored.
 * DRAINING: Envoy sends the backend no new requests and lets open ones finish.
 */
export interface Pin {
  readonly health: EndpointHealth;
  /** Published weight; undefined keeps the config's. */
  readonly weight: number | undefined;
  /** Unix ms. */
  readonly since: number;
  readonly reason: string | undefined;
}

/** Per backend, for admin GET /backends (merged with the config view). No secrets. */
export interface BackendHealthSummary {
  readonly score: number;
  /** Its own state from the verdicts. */
  readonly state: BackendHealth;
  /** What Envoy is told (after pins and the panic rule). */
  readonly published: { readonly state: EndpointHealth; readonly weight: number };
  readonly heldByPanicRule: boolean;
  readonly pinned: {
    readonly state: EndpointHealth;
    readonly weight: number | undefined;
    readonly since: string;
    readonly reason: string | undefined;
  } | null;
  /** Failed verdicts among the last score.keepVerdicts, by check. */
  readonly recentFailures: Readonly<Record<string, number>>;
  readonly observations: number;
}

interface BackendRecord {
  score: ScoreState;
  /** Unix ms of the last change of its own state. */
  changedAt: number;
  verdicts: Verdict[];
  published: Published;
}

const STATES: readonly EndpointHealth[] = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'DRAINING'];

export interface MonitorOptions {
  readonly config: () => HealthConfig;
  readonly topology: () => Topology;
  readonly now?: () => number;
  /**
   * Whether probes will observe this (UNHEALTHY) backend, so it needs no half-open trial. Default: probes enabled.
   * The prober says no for a backend it skips (a paid backend without a probe budget, a probe budget refused).
   */
  readonly probed?: (backend: string) => boolean;
}

/**
 * The route's checks on one response, the latency check against (and updating) `baselines` by backend and model.
 * Scoring is separate (HealthMonitor.record): an ext_proc worker checks here and the cluster primary scores.
 */
export function checkResponse(
  config: HealthConfig,
  baselines: Map<string, LatencyBaselines>,
  backend: string,
  request: ChatRequest,
  observed: ObservedCompletion,
  latency: LatencySample,
): CheckResult[] {
  const enabled = checksFor(config, request.model);
  const results: CheckResult[] = runChecks(request, observed, enabled, config);
  if (enabled.has('latency') && observed.stream) {
    const key = `${backend}\u0000${request.model}`;
    const outcome = judgeLatency(
      baselines.get(key) ?? { ttft: EMPTY_BASELINE, tps: EMPTY_BASELINE },
      latency,
      config.latency,
    );
    baselines.set(key, outcome.next);
    if (outcome.pass !== undefined) results.push({ check: 'latency', pass: outcome.pass, detail: outcome.detail });
  }
  return results;
}

/** One observation's check results as verdicts (what the access log, the metrics and the scores are made of). */
export function toVerdicts(
  backend: string,
  model: string,
  results: readonly { check: VerdictCheck; pass: boolean; detail: string }[],
  source: Verdict['source'],
  at: number,
): Verdict[] {
  return results.map((r) => ({ backend, model, check: r.check, pass: r.pass, detail: r.detail, source, at }));
}

export class HealthMonitor {
  readonly #backends = new Map<string, BackendRecord>();
  readonly #latency = new Map<string, LatencyBaselines>();
  readonly #pins = new Map<string, Pin>();
  /** What the publisher was last told per backend (absent: the default, config weight and HEALTHY). */
  readonly #sent = new Map<string, { weight: number; health: EndpointHealth }>();
  #publisher: Publisher | undefined;
  #weights: { topology: Topology; weights: Map<string, number> } | undefined;

  constructor(private readonly options: MonitorOptions) {}

  get config(): HealthConfig {
    return this.options.config();
  }

  /** Sends every current non-HEALTHY state at once (a control plane that starts after the monitor). */
  attach(publisher: Publisher | undefined): void {
    this.#publisher = publisher;
    if (!publisher) return;
    for (const [backend, state] of this.#sent) publisher(backend, state);
  }

  /** A 200 response the router stage saw: runs the route's checks, then scores the backend. */
  observeResponse(
    backend: string,
    request: ChatRequest,
    observed: ObservedCompletion,
    latency: LatencySample,
  ): Verdict[] {
    return this.record(
      backend,
      request.model,
      checkResponse(this.options.config(), this.#latency, backend, request, observed, latency),
      'response',
    );
  }

  /** Scores one observation made of these results (one response, or one probe). */
  record(
    backend: string,
    model: string,
    results: readonly { check: VerdictCheck; pass: boolean; detail: string }[],
    source: Verdict['source'],
  ): Verdict[] {
    if (results.length === 0) return [];
    const config = this.options.config();
    const at = (this.options.now ?? Date.now)();
    const verdicts = toVerdicts(backend, model, results, source, at);
    const failed = verdicts.filter((v) => !v.pass);
    // Latency alone is a soft signal (0.5); any content failure counts fully.
    const failure = failed.length === 0 ? 0 : failed.every((v) => v.check === 'latency') ? 0.5 : 1;
    const record = this.#backends.get(backend) ?? {
      score: INITIAL_SCORE,
      changedAt: at,
      verdicts: [],
      published: { health: 'HEALTHY' as const, held: false },
    };
    this.#backends.set(backend, record);
    const before = record.score.state;
    record.score = observe(record.score, failure, config.score);
    if (record.score.state !== before) record.changedAt = at;
    record.verdicts.push(...verdicts);
    if (record.verdicts.length > config.score.keepVerdicts)
      record.verdicts.splice(0, record.verdicts.length - config.score.keepVerdicts);
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
    if (!config.enabled) return;
    const probed = this.options.probed ?? (() => config.probes.enabled);
    const now = (this.options.now ?? Date.now)();
    let changed = false;
    for (const [name, record] of this.#backends) {
      if (record.score.state !== 'UNHEALTHY' || now - record.changedAt < config.score.halfOpenAfterMs || probed(name))
        continue;
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

  /** Pinned backends count as their pin: out of the panic rule when pinned out, usable when pinned in. */
  #routes(): RouteView[] {
    return [...this.options.topology().routes.values()].map((r) => ({
      model: r.model,
      endpoints: r.endpoints.map((e) => {
        const pin = this.#pins.get(e.backend.name);
        const pinnedOut = pin !== undefined && (pin.health === 'UNHEALTHY' || pin.health === 'DRAINING');
        return { backend: e.backend.name, priority: e.priority, enabled: !e.backend.disabledReason && !pinnedOut };
      }),
    }));
  }

  /** The config's weight on the backend's first route (EDS state is per backend; never 0: Envoy NACKs it). */
  #configWeight(backend: string): number {
    // Computed once per topology (the hot path republishes on every response).
    const topology = this.options.topology();
    if (this.#weights?.topology !== topology) {
      const weights = new Map<string, number>();
      for (const route of topology.routes.values()) {
        for (const e of route.endpoints)
          if (!weights.has(e.backend.name)) weights.set(e.backend.name, Math.max(1, e.weight));
      }
      this.#weights = { topology, weights };
    }
    return this.#weights.weights.get(backend) ?? 1;
  }

  /** What a backend is published as now: its pin, else the verdicts after the panic rule. */
  #target(backend: string, published: Published): { weight: number; health: EndpointHealth } {
    const pin = this.#pins.get(backend);
    if (pin) return { weight: pin.weight ?? this.#configWeight(backend), health: pin.health };
    return { weight: this.#configWeight(backend), health: published.health };
  }

  #republish(): void {
    const topology = this.options.topology();
    // A pin on a backend a reload removed goes with it.
    for (const name of this.#pins.keys()) if (!topology.backends.has(name)) this.#pins.delete(name);
    const views = new Map(
      [...this.#backends].map(([name, r]) => [name, { state: r.score.state, score: r.score.score }]),
    );
    for (const [name, pin] of this.#pins)
      views.set(name, {
        state: pin.health === 'DRAINING' ? 'UNHEALTHY' : pin.health,
        score: views.get(name)?.score ?? 0,
      });
    const next = publishedStates(views, this.#routes());
    const names = new Set([...this.#backends.keys(), ...this.#pins.keys(), ...this.#sent.keys()]);
    for (const backend of names) {
      const record = this.#backends.get(backend);
      const published = this.#pins.has(backend)
        ? { health: 'HEALTHY' as const, held: false }
        : (next.get(backend) ?? { health: 'HEALTHY' as const, held: false });
      if (record) record.published = published;
      const target = this.#target(backend, published);
      for (const s of STATES) healthMetrics.state.set({ backend, state: s }, s === target.health ? 1 : 0);
      healthMetrics.weight.set({ backend }, target.weight);
      healthMetrics.pinned.set({ backend }, this.#pins.has(backend) ? 1 : 0);
      const isDefault = target.health === 'HEALTHY' && target.weight === this.#configWeight(backend);
      const sent = this.#sent.get(backend);
      if (isDefault) {
        if (!sent) continue;
        this.#sent.delete(backend);
        this.#publisher?.(backend, undefined);
      } else if (!sent || sent.health !== target.health || sent.weight !== target.weight) {
        this.#sent.set(backend, target);
        this.#publisher?.(backend, { ...target });
      }
    }
  }

  /** Operator pin: published instead of the verdicts until restore(). Unknown backend: false. */
  pin(backend: string, health: EndpointHealth, weight: number | undefined, reason: string | undefined): boolean {
    if (!this.options.topology().backends.has(backend)) return false;
    this.#pins.set(backend, {
      health,
      weight: weight === undefined ? undefined : Math.max(1, Math.round(weight)),
      since: (this.options.now ?? Date.now)(),
      reason,
    });
    this.#republish();
    return true;
  }

  /** Back to verdict-driven. Unknown backend: false; a backend that was not pinned: true (nothing to do). */
  restore(backend: string): boolean {
    if (!this.options.topology().backends.has(backend)) return false;
    if (this.#pins.delete(backend)) this.#republish();
    return true;
  }

  /** The backend's pin, if any. */
  pinOf(backend: string): Pin | undefined {
    return this.#pins.get(backend);
  }

  /** Takes these pins as the truth (shared pins read from Redis): others are removed. Unknown backends are ignored. */
  replacePins(pins: ReadonlyMap<string, Pin>): void {
    const topology = this.options.topology();
    const next = new Map([...pins].filter(([name]) => topology.backends.has(name)));
    const same =
      next.size === this.#pins.size &&
      [...next].every(([name, pin]) => {
        const current = this.#pins.get(name);
        return (
          current !== undefined &&
          current.health === pin.health &&
          current.weight === pin.weight &&
          current.since === pin.since &&
          current.reason === pin.reason
        );
      });
    if (same) return;
    this.#pins.clear();
    for (const [name, pin] of next) this.#pins.set(name, pin);
    this.#republish();
  }

  /** Re-evaluates after a config reload (weights, routes, removed backends). Scores and states are kept. */
  reconfigured(): void {
    this.#republish();
  }

  /** Per backend of the topology, for admin GET /backends. */
  summary(): Map<string, BackendHealthSummary> {
    const out = new Map<string, BackendHealthSummary>();
    for (const name of this.options.topology().backends.keys()) {
      const record = this.#backends.get(name);
      const published = record?.published ?? { health: 'HEALTHY' as const, held: false };
      const target = this.#target(name, published);
      const pin = this.#pins.get(name);
      const recentFailures: Record<string, number> = {};
      for (const v of record?.verdicts ?? []) if (!v.pass) recentFailures[v.check] = (recentFailures[v.check] ?? 0) + 1;
      out.set(name, {
        score: record?.score.score ?? 0,
        state: record?.score.state ?? 'HEALTHY',
        published: { state: target.health, weight: target.weight },
        heldByPanicRule: !pin && published.held,
        pinned: pin
          ? { state: pin.health, weight: pin.weight, since: new Date(pin.since).toISOString(), reason: pin.reason }
          : null,
        recentFailures,
        observations: record?.score.observations ?? 0,
      });
    }
    return out;
  }

  /** Admin GET /health/backends: no secrets, only names, scores, states and verdict details. */
  view(): unknown {
    const backends: Record<string, unknown> = {};
    for (const name of this.options.topology().backends.keys()) {
      const record = this.#backends.get(name);
      const pin = this.#pins.get(name);
      backends[name] = {
        score: record?.score.score ?? 0,
        state: record?.score.state ?? 'HEALTHY',
        published: this.#target(name, record?.published ?? { health: 'HEALTHY', held: false }).health,
        heldByPanicRule: !pin && (record?.published.held ?? false),
        pinned: pin
          ? { state: pin.health, weight: pin.weight, since: new Date(pin.since).toISOString(), reason: pin.reason }
          : null,
        observations: record?.score.observations ?? 0,
        cleanStreak: record?.score.cleanStreak ?? 0,
        probation: record?.score.probation ?? false,
        lastVerdicts: (record?.verdicts ?? []).map((v) => ({ ...v, at: new Date(v.at).toISOString() })),
      };
    }
    return { backends };
  }
}
