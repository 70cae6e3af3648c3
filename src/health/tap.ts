// The router stage's hook: one RequestHealth per routed request, fed the unified response (whole body or SSE
// chunks as they pass). Only 200 responses from a known backend are checked. With no monitor installed (health
// disabled, or unit tests of the router stage) begin() returns undefined and nothing is observed.
import type { ChatRequest } from '../unified/chat-request.js';
import { errorMessage, log } from '../telemetry/log.js';
import type { HealthConfig } from './config.js';
import type { LatencySample } from './baseline.js';
import type { Verdict } from './monitor.js';
import { observeWholeBody, StreamObserver, type ObservedCompletion } from './observe.js';

/** Below this stream duration (first content → end) throughput is not computed: too noisy. */
const MIN_TPS_WINDOW_MS = 100;

/** What the tap feeds: the HealthMonitor, or in an ext_proc worker the forwarder to the primary's (src/workers/). */
export interface ResponseObserver {
  readonly config: HealthConfig;
  observeResponse(
    backend: string,
    request: ChatRequest,
    observed: ObservedCompletion,
    latency: LatencySample,
  ): Verdict[];
}

export class RequestHealth {
  readonly #startedAt: number;
  #backend: string | undefined;
  #status = 0;
  #stream: StreamObserver | undefined;
  #done = false;
  #verdict: string | undefined;

  constructor(
    private readonly monitor: ResponseObserver,
    private readonly request: ChatRequest,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#startedAt = now();
  }

  /**
   * The exchange's verdict once checked, for the access log (dynamic metadata health_verdict): `pass`, or
   * `fail:<check>[,<check>…]`; undefined when nothing was checked (errors, unknown backend, health off).
   */
  get verdict(): string | undefined {
    return this.#verdict;
  }

  /** Response headers: who answered and with what status. */
  response(backend: string | undefined, status: number): void {
    this.#backend = backend;
    this.#status = status;
  }

  #active(): boolean {
    return !this.#done && this.#backend !== undefined && this.#status === 200;
  }

  /** A unified SSE chunk on its way to the client (before the stream's owed tail is appended). */
  chunk(bytes: Buffer): void {
    if (!this.#active()) return;
    (this.#stream ??= new StreamObserver(this.now)).push(bytes);
  }

  /** The stream ended normally. */
  end(completionTokens: number | undefined): void {
    if (!this.#active() || !this.#stream) return;
    const observed = this.#stream.result(false);
    const first = this.#stream.firstContentAt;
    const endedAt = this.now();
    const tokens = completionTokens ?? observed.completionTokens;
    const window = first === undefined ? 0 : endedAt - first;
    this.#finish(observed, {
      ttftMs: first === undefined ? undefined : first - this.#startedAt,
      tokensPerSecond: tokens !== undefined && window >= MIN_TPS_WINDOW_MS ? tokens / (window / 1000) : undefined,
    });
  }

  /** The exchange was cut while the response streamed (reset, client gone): an incomplete stream. */
  cut(): void {
    if (!this.#active() || !this.#stream) return;
    this.#finish(this.#stream.result(true), { ttftMs: undefined, tokensPerSecond: undefined });
  }

  /** A whole unified body (after translation) with the status the client gets. */
  whole(body: Buffer, status: number): void {
    this.#status = status;
    if (!this.#active()) return;
    this.#finish(observeWholeBody(body), { ttftMs: undefined, tokensPerSecond: undefined });
  }

  #finish(
    observed: ObservedCompletion,
    latency: { ttftMs: number | undefined; tokensPerSecond: number | undefined },
  ): void {
    this.#done = true;
    const backend = this.#backend;
    if (backend === undefined) return;
    try {
      this.#verdict = verdictSummary(this.monitor.observeResponse(backend, this.request, observed, latency));
    } catch (err) {
      // Health is advisory: a bug here must never break a response.
      log.error('health check failed', { backend, error: errorMessage(err) });
    }
  }
}

/** `pass`, or `fail:` and the failed checks (each once, in check order); undefined for no verdict. Pure. */
export function verdictSummary(verdicts: readonly Verdict[]): string | undefined {
  if (verdicts.length === 0) return undefined;
  const failed = [...new Set(verdicts.filter((v) => !v.pass).map((v) => v.check))];
  return failed.length === 0 ? 'pass' : `fail:${failed.join(',')}`;
}

let installed: ResponseObserver | undefined;

export const healthTap = {
  install(monitor: ResponseObserver | undefined): void {
    installed = monitor;
  },
  uninstall(monitor: ResponseObserver): void {
    if (installed === monitor) installed = undefined;
  },
  begin(request: ChatRequest): RequestHealth | undefined {
    if (!installed || !installed.config.enabled) return undefined;
    return new RequestHealth(installed, request);
  },
};
