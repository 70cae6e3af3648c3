// Per backend failure score and state, with hysteresis (docs/health.md).
//   Each observation (one checked response, or one probe) has a failure value x: 1 when any check failed, 0.5
//   when only the latency check failed (a soft signal), 0 when everything passed.
//   α = 1 − 2^(−1/halfLife)        score ← (1 − α)·score + α·x          (score ∈ [0, 1], starts at 0)
//   HEALTHY  → DEGRADED   when score > degradedAbove
//   any      → UNHEALTHY  when score > unhealthyAbove
//   DEGRADED/UNHEALTHY → HEALTHY after recoverAfter consecutive clean observations; the score is then capped at
//   degradedAbove / 2 so one new failure does not flip the backend straight back (that is the hysteresis).
// With the defaults (halfLife 5, 0.3, 0.6): 3 consecutive failures degrade a healthy backend, 7 take it out.
// Half-open (when no probes run, an UNHEALTHY backend would never get another observation): after a cool-down the
// monitor calls halfOpen(): HEALTHY on probation with score = unhealthyAbove, so the first failure takes it out
// again at once, and recoverAfter clean observations end the probation (score capped as above). On probation the
// DEGRADED step is skipped.
import { alphaFor } from './baseline.js';

export type BackendHealth = 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY';

export interface ScoreState {
  readonly score: number;
  readonly state: BackendHealth;
  readonly cleanStreak: number;
  readonly observations: number;
  /** Half-open: back in after a cool-down, on trial until recoverAfter clean observations. */
  readonly probation: boolean;
}

export interface ScoreSettings {
  readonly halfLife: number;
  readonly degradedAbove: number;
  readonly unhealthyAbove: number;
  readonly recoverAfter: number;
}

export const INITIAL_SCORE: ScoreState = {
  score: 0,
  state: 'HEALTHY',
  cleanStreak: 0,
  observations: 0,
  probation: false,
};

export function observe(current: ScoreState, failure: number, s: ScoreSettings): ScoreState {
  const x = Math.min(1, Math.max(0, failure));
  const alpha = alphaFor(s.halfLife);
  let score = (1 - alpha) * current.score + alpha * x;
  const cleanStreak = x === 0 ? current.cleanStreak + 1 : 0;
  let state = current.state;
  let probation = current.probation;
  if (score > s.unhealthyAbove) {
    state = 'UNHEALTHY';
    probation = false;
  } else if (score > s.degradedAbove && state === 'HEALTHY' && !probation) {
    state = 'DEGRADED';
  }
  if ((state !== 'HEALTHY' || probation) && cleanStreak >= s.recoverAfter) {
    state = 'HEALTHY';
    probation = false;
    score = Math.min(score, s.degradedAbove / 2);
  }
  return { score, state, cleanStreak, observations: current.observations + 1, probation };
}

/** Half-open: an UNHEALTHY backend gets a trial (see above). Other states are returned unchanged. */
export function halfOpen(current: ScoreState, s: Pick<ScoreSettings, 'unhealthyAbove'>): ScoreState {
  if (current.state !== 'UNHEALTHY') return current;
  return { ...current, state: 'HEALTHY', score: s.unhealthyAbove, cleanStreak: 0, probation: true };
}
