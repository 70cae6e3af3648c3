// Settings of the peers bench, from flags (first) or environment variables. Every count is bounded: the defaults
// take about 8-10 minutes on 2 cores; --quick is a smoke test of a minute or two.
import { PATH_IDS, type PathId } from './targets.js';

export type Payload = 'json' | 'sse';

export interface Cell {
  readonly payload: Payload;
  readonly concurrency: number;
}

export interface PeersSettings {
  readonly rounds: number;
  /** Measured window per (round, path, cell). */
  readonly seconds: number;
  /** Unmeasured load per (path, cell) once before round 1. */
  readonly warmupSeconds: number;
  /** Unmeasured load at the start of every measurement (fresh connections at that concurrency). */
  readonly prewarmSeconds: number;
  readonly maxRequests: number;
  /** A measurement of a slow path goes on until it has this many requests (and 3 × concurrency), up to 3 × seconds. */
  readonly minRequests: number;
  readonly cells: readonly Cell[];
  readonly paths: readonly PathId[];
  /** Content chunks of the mock OpenAI stream (plus a role chunk, a finish chunk and [DONE]). */
  readonly sseChunks: number;
  readonly quick: boolean;
}

export const USAGE = `usage: node dist/bench/peers.js [--quick] [--rounds N] [--seconds S] [--warmup S] [--prewarm S]
                               [--concurrency 1,32] [--payloads json,sse] [--only ${PATH_IDS.join(',')}] [--skip …]
                               [--max-requests N] [--min-requests N] [--sse-chunks N]
  env: PEERS_ROUNDS PEERS_SECONDS PEERS_WARMUP_SECONDS PEERS_PREWARM_SECONDS PEERS_CONCURRENCY PEERS_PAYLOADS
       PEERS_ONLY PEERS_SKIP PEERS_MAX_REQUESTS PEERS_MIN_REQUESTS PEERS_SSE_CHUNKS PEERS_QUICK=1 (flags win)`;

/** A bad flag or value (or --help): printed as is, without a stack. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly help = false,
  ) {
    super(message);
  }
}

const LIMITS = {
  rounds: 20,
  seconds: 60,
  warmup: 30,
  prewarm: 10,
  concurrency: 256,
  maxRequests: 1_000_000,
  sseChunks: 1000,
};

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i === -1) return undefined;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value\n${USAGE}`);
  return value;
}

function positive(text: string | undefined, what: string, max: number, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)) || n > max) {
    throw new UsageError(`${what}: expected a positive ${integer ? 'integer' : 'number'} ≤ ${max}, got '${text}'`);
  }
  return n;
}

function list(text: string | undefined): string[] | undefined {
  return text === undefined
    ? undefined
    : text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function pathList(text: string | undefined, what: string): PathId[] | undefined {
  const names = list(text);
  if (!names) return undefined;
  for (const name of names)
    if (!(PATH_IDS as readonly string[]).includes(name))
      throw new UsageError(`${what}: unknown path '${name}' (${PATH_IDS.join(', ')})`);
  return names as PathId[];
}

export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): PeersSettings {
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') throw new UsageError(USAGE, true);
  }
  const known = new Set([
    '--quick',
    '--rounds',
    '--seconds',
    '--warmup',
    '--prewarm',
    '--concurrency',
    '--payloads',
    '--only',
    '--skip',
    '--max-requests',
    '--min-requests',
    '--sse-chunks',
  ]);
  for (const arg of argv)
    if (arg.startsWith('--') && !known.has(arg)) throw new UsageError(`unknown option ${arg}\n${USAGE}`);
  const quick = argv.includes('--quick') || env.PEERS_QUICK === '1';
  const get = (name: string, envName: string) => flag(argv, name) ?? env[envName];
  const rounds = positive(get('rounds', 'PEERS_ROUNDS'), 'rounds', LIMITS.rounds, true) ?? (quick ? 1 : 3);
  const seconds = positive(get('seconds', 'PEERS_SECONDS'), 'seconds', LIMITS.seconds, false) ?? (quick ? 1 : 4);
  const warmupSeconds =
    positive(get('warmup', 'PEERS_WARMUP_SECONDS'), 'warmup', LIMITS.warmup, false) ?? (quick ? 0.5 : 1.5);
  const prewarmSeconds =
    positive(get('prewarm', 'PEERS_PREWARM_SECONDS'), 'prewarm', LIMITS.prewarm, false) ?? (quick ? 0.2 : 0.5);
  const maxRequests =
    positive(get('max-requests', 'PEERS_MAX_REQUESTS'), 'max-requests', LIMITS.maxRequests, true) ?? 200_000;
  const minRequests =
    positive(get('min-requests', 'PEERS_MIN_REQUESTS'), 'min-requests', LIMITS.maxRequests, true) ?? (quick ? 10 : 50);
  const sseChunks = positive(get('sse-chunks', 'PEERS_SSE_CHUNKS'), 'sse-chunks', LIMITS.sseChunks, true) ?? 48;
  const concurrencies = (list(get('concurrency', 'PEERS_CONCURRENCY')) ?? ['1', '32']).map((c) =>
    positive(c, 'concurrency', LIMITS.concurrency, true)!,
  );
  const payloads = list(get('payloads', 'PEERS_PAYLOADS')) ?? ['json', 'sse'];
  for (const p of payloads)
    if (p !== 'json' && p !== 'sse') throw new UsageError(`payloads: expected json and/or sse, got '${p}'`);
  const only = pathList(get('only', 'PEERS_ONLY'), 'only');
  const skip = pathList(get('skip', 'PEERS_SKIP'), 'skip') ?? [];
  const cells: Cell[] = [];
  for (const payload of payloads as Payload[])
    for (const concurrency of concurrencies) cells.push({ payload, concurrency });
  return {
    rounds,
    seconds,
    warmupSeconds,
    prewarmSeconds,
    maxRequests,
    minRequests,
    cells,
    paths: PATH_IDS.filter((id) => (only ? only.includes(id) : true) && !skip.includes(id)),
    sseChunks,
    quick,
  };
}
