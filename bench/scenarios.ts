// The bench scenarios and the shared settings the orchestrator hands to its children.
export type ScenarioName = 'passthrough-json' | 'sse-200' | 'prompt-size';
export type ServerKind = 'floor' | 'real';

export interface ScenarioSettings {
  readonly name: ScenarioName;
  readonly stream: boolean;
  /** Exchanges run before the measured window (JIT warm-up, connection set-up). */
  readonly warmup: number;
  /** Exchanges in the measured window. */
  readonly count: number;
  /** Request body of about this many bytes of English prose instead of the 2 KB conversation (prompt-size runs). */
  readonly promptBytes?: number;
}

export interface BenchSettings {
  readonly concurrency: number;
  readonly rounds: number;
  readonly scenarios: readonly ScenarioSettings[];
  /** CPU-profile the server child during the measured window (inflates CPU; for finding hot spots only). */
  readonly profile: boolean;
}

export const DEFAULT_SETTINGS: BenchSettings = {
  concurrency: 16,
  rounds: 5,
  profile: false,
  scenarios: [
    { name: 'passthrough-json', stream: false, warmup: 400, count: 2000 },
    { name: 'sse-200', stream: true, warmup: 40, count: 300 },
  ],
};

/** Goal for the real/floor server CPU ratio. */
export const CPU_RATIO_GOAL = 1.5;
