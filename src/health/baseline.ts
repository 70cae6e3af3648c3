// A backend's own latency baseline: exponentially weighted mean and variance (West 1979), per backend and model.
//   α = 1 − 2^(−1/halfLife)      d = x − mean      mean ← mean + α·d      var ← (1 − α)·(var + α·d²)
// TTFT is tracked as ln(ms) (latency is log-normal-ish); throughput as tokens per second. A sample is an outlier
// when the baseline has seen `warmup` samples and z = (x − mean)/sd exceeds zThreshold (TTFT slower) or falls below
// −zThreshold (throughput lower). sd is floored (ln 1.25 for TTFT, 10 % of the mean for throughput) so a backend
// with near-constant latency is not flagged for noise, and a TTFT outlier must also be ≥ 100 ms slower than the
// baseline. Outliers are folded in too: a lasting shift becomes the new normal after a few half-lives; only sudden
// changes are verdicts.
export interface Baseline {
  readonly n: number;
  readonly mean: number;
  readonly variance: number;
}

export const EMPTY_BASELINE: Baseline = { n: 0, mean: 0, variance: 0 };

export function alphaFor(halfLife: number): number {
  return 1 - Math.pow(2, -1 / halfLife);
}

export function updateBaseline(b: Baseline, x: number, halfLife: number): Baseline {
  if (b.n === 0) return { n: 1, mean: x, variance: 0 };
  // Until the EWMA has "filled" use the running average so early samples are not overweighted.
  const alpha = Math.max(alphaFor(halfLife), 1 / (b.n + 1));
  const d = x - b.mean;
  return { n: b.n + 1, mean: b.mean + alpha * d, variance: (1 - alpha) * (b.variance + alpha * d * d) };
}

export function zScore(b: Baseline, x: number, sdFloor: number): number {
  const sd = Math.max(Math.sqrt(b.variance), sdFloor);
  return (x - b.mean) / sd;
}

export interface LatencySample {
  readonly ttftMs: number | undefined;
  readonly tokensPerSecond: number | undefined;
}

export interface LatencyBaselines {
  readonly ttft: Baseline;
  readonly tps: Baseline;
}

export interface LatencySettings {
  readonly warmup: number;
  readonly halfLife: number;
  readonly zThreshold: number;
}

export interface LatencyOutcome {
  readonly next: LatencyBaselines;
  /** Undefined when nothing could be judged (warming up, no sample); else whether the sample is normal. */
  readonly pass: boolean | undefined;
  readonly detail: string;
}

const TTFT_SD_FLOOR = Math.log(1.25);
/** A TTFT outlier must also be this much slower than the baseline in absolute terms (ms-scale jitter is noise). */
const MIN_TTFT_EXCESS_MS = 100;

export function judgeLatency(baselines: LatencyBaselines, sample: LatencySample, s: LatencySettings): LatencyOutcome {
  let ttft = baselines.ttft;
  let tps = baselines.tps;
  const problems: string[] = [];
  let judged = false;
  if (sample.ttftMs !== undefined && sample.ttftMs >= 0) {
    const x = Math.log(Math.max(1, sample.ttftMs));
    if (ttft.n >= s.warmup) {
      judged = true;
      const z = zScore(ttft, x, TTFT_SD_FLOOR);
      if (z > s.zThreshold && sample.ttftMs - Math.exp(ttft.mean) > MIN_TTFT_EXCESS_MS)
        problems.push(
          `TTFT ${Math.round(sample.ttftMs)} ms vs baseline ${Math.round(Math.exp(ttft.mean))} ms (z ${z.toFixed(1)})`,
        );
    }
    ttft = updateBaseline(ttft, x, s.halfLife);
  }
  if (sample.tokensPerSecond !== undefined && Number.isFinite(sample.tokensPerSecond) && sample.tokensPerSecond > 0) {
    const x = sample.tokensPerSecond;
    if (tps.n >= s.warmup) {
      judged = true;
      const z = zScore(tps, x, 0.1 * Math.abs(tps.mean));
      if (z < -s.zThreshold)
        problems.push(`${x.toFixed(1)} tokens/s vs baseline ${tps.mean.toFixed(1)} (z ${z.toFixed(1)})`);
    }
    tps = updateBaseline(tps, x, s.halfLife);
  }
  return {
    next: { ttft, tps },
    pass: judged ? problems.length === 0 : undefined,
    detail: problems.length ? problems.join('; ') : 'ok',
  };
}
