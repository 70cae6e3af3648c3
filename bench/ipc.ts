// Messages between the orchestrator (run.ts) and its two children: the ext_proc server under test (server.ts)
// and the load generator (load.ts). Each child runs in its own process so their CPU never mixes.
import type { ChildProcess } from 'node:child_process';
import type { ScenarioSettings, ServerKind } from './scenarios.js';

// orchestrator → server child
export type ToServer = { type: 'mark' } | { type: 'stop'; label: string } | { type: 'exit' };
// server child → orchestrator
export type FromServer =
  | { type: 'ready'; port: number }
  | { type: 'marked' }
  | {
      type: 'stopped';
      cpuUs: number;
      wallMs: number;
      rssBytes: number;
      heapUsedBytes: number;
      threadsMs: Record<string, number>;
      profileFile?: string;
    }
  | { type: 'error'; message: string };

export interface LoadJob {
  readonly port: number;
  readonly kind: ServerKind;
  readonly scenario: ScenarioSettings;
  readonly concurrency: number;
  /** Run the deep response checks before warming up (the real server only: the floor answers bare CONTINUEs). */
  readonly validate: boolean;
}

export interface LoadResult {
  readonly exchanges: number;
  readonly messages: number;
  readonly wallMs: number;
  /** Per-exchange latency, milliseconds, sorted ascending. */
  readonly latenciesMs: number[];
}

// orchestrator → load child
export type ToLoad = { type: 'job'; job: LoadJob } | { type: 'go' } | { type: 'exit' };
// load child → orchestrator
export type FromLoad =
  | { type: 'validated'; checks: number }
  | { type: 'warm' }
  | { type: 'done'; result: LoadResult }
  | { type: 'error'; message: string };

/**
 * Buffers a child's messages so none is lost between two awaits; `next(type)` takes the first buffered message of
 * that type (or waits for it) and rejects on an error message, the child's exit or a timeout.
 */
export class Inbox<M extends { type: string }> {
  readonly #queue: M[] = [];
  #waiter: (() => void) | undefined;
  #exit: string | undefined;

  constructor(
    child: ChildProcess,
    private readonly what: string,
  ) {
    child.on('message', (message: M) => {
      this.#queue.push(message);
      this.#waiter?.();
    });
    child.on('exit', (code, signal) => {
      this.#exit = `exited (code ${code}, signal ${signal})`;
      this.#waiter?.();
    });
  }

  async next<T extends M['type']>(type: T, timeoutMs: number): Promise<Extract<M, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const error = this.#queue.find((m) => m.type === 'error') as { message?: string } | undefined;
      if (error) throw new Error(`${this.what}: ${error.message ?? 'failed'}`);
      const index = this.#queue.findIndex((m) => m.type === type);
      if (index !== -1) return this.#queue.splice(index, 1)[0] as Extract<M, { type: T }>;
      if (this.#exit) throw new Error(`${this.what} ${this.#exit} while waiting for '${type}'`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.what}: no '${type}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }
}

/** For children: send to the parent, failing loudly if there is no IPC channel. */
export function toParent(message: FromServer | FromLoad): void {
  if (!process.send) throw new Error('bench children must be started by bench/run.js (no IPC channel)');
  process.send(message);
}
