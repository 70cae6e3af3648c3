// Messages between the peers orchestrator (bench/peers.ts) and its two Node children: the mock upstreams
// (bench/peers/mock.ts) and the load generator (bench/peers/load.ts). Each runs in its own process so that its CPU
// is measured apart from the gateways'.

/** What a path's response must look like to count as a success. */
export type Expect = 'openai' | 'anthropic';

export interface LoadJob {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly stream: boolean;
  readonly expect: Expect;
  readonly concurrency: number;
  /** Unmeasured requests first (fresh connections at this concurrency), then 'warm'. */
  readonly warmupMs: number;
  /** The measured window: requests are started until it has passed (or maxRequests were started)… */
  readonly durationMs: number;
  readonly maxRequests: number;
  /** …but a slow path goes on until minRequests were started, for up to 3 × durationMs (so its p99 means something). */
  readonly minRequests: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly wallMs: number;
  /** Whole-response latency of every successful request, ms, ascending. */
  readonly latenciesMs: number[];
}

export interface ProbeResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly ms: number;
}

export type ToLoad =
  | { type: 'job'; job: LoadJob }
  | { type: 'go' }
  | { type: 'probe'; url: string; headers: Readonly<Record<string, string>>; body: string }
  | { type: 'exit' };

export type FromLoad =
  | { type: 'warm'; errors: number; firstError: string | undefined }
  | { type: 'done'; result: LoadResult }
  | { type: 'probed'; result: ProbeResult }
  | { type: 'error'; message: string };

export type FromMock =
  { type: 'ready'; openaiPort: number; anthropicPort: number } | { type: 'error'; message: string };
