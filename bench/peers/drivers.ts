// The children the orchestrators (bench/peers.ts, bench/workers.ts) drive: the mock upstreams (bench/peers/mock.ts)
// and the load generator (bench/peers/load.ts: probes, then jobs of warm-up, CPU mark and measured window).
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inbox } from '../ipc.js';
import { register } from './children.js';
import type { FromLoad, FromMock, LoadJob, LoadResult, ToLoad } from './ipc.js';
import { ANTHROPIC_KEY, type MockPorts } from './targets.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/bench/peers

export class LoadGenerator {
  readonly #child;
  readonly #inbox;
  readonly pid: number;

  constructor() {
    this.#child = fork(path.join(here, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    register('load generator', this.#child);
    this.#inbox = new Inbox<FromLoad>(this.#child, 'load generator');
    this.pid = this.#child.pid ?? -1;
  }

  #send(message: ToLoad): void {
    if (!this.#child.connected) throw new Error('load generator: IPC channel closed');
    this.#child.send(message);
  }

  async probe(url: string, headers: Readonly<Record<string, string>>, body: string) {
    this.#send({ type: 'probe', url, headers, body });
    return (await this.#inbox.next('probed', 60_000)).result;
  }

  /** Runs the job's warm-up, calls `atWarm` (the CPU mark), runs the measured window. Warm-up errors count too. */
  async run(job: LoadJob, atWarm: () => void): Promise<LoadResult> {
    this.#send({ type: 'job', job });
    const warm = await this.#inbox.next('warm', job.warmupMs + 90_000);
    atWarm();
    this.#send({ type: 'go' });
    const { result } = await this.#inbox.next('done', job.durationMs + 90_000);
    return { ...result, errors: result.errors + warm.errors, firstError: warm.firstError ?? result.firstError };
  }

  exit(): void {
    if (this.#child.connected) this.#child.send({ type: 'exit' } satisfies ToLoad);
  }
}

/** Forks the mock upstreams (OpenAI and Anthropic shaped; `sseChunks` content chunks per stream). */
export async function startMockUpstreams(sseChunks: number): Promise<MockPorts> {
  const child = fork(path.join(here, 'mock.js'), [String(sseChunks), ANTHROPIC_KEY], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  register('mock upstreams', child);
  const ready = await new Inbox<FromMock>(child, 'mock upstreams').next('ready', 30_000);
  return { openaiPort: ready.openaiPort, anthropicPort: ready.anthropicPort, pid: child.pid ?? -1 };
}
