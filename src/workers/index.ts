// ext_proc as the service runs it: in this process (one worker: no cluster at all, as before workers existed), or
// from a pool of worker processes behind one shared port (src/workers/primary.ts). The service sees one shape.
import { rmSync } from 'node:fs';
import type { ConfigStore } from '../config/store.js';
import type { Environment } from '../config/topology.js';
import { startExtProcServer, type DrainOutcome } from '../extproc/server.js';
import type { CheckResult } from '../health/checks.js';
import type { AccountingHolder } from '../service-accounting.js';
import { startWorkers } from './primary.js';

export interface ExtProcServing {
  readonly port: number;
  /** How many processes serve ext_proc. */
  readonly workers: number;
  /** grpc health SERVING / NOT_SERVING on every process. */
  setServing(ready: boolean): void;
  /** The ext_proc drain (extproc/server.ts) in every process; resolves when all are done. */
  drain(timeoutMs: number, graceMs: number): Promise<DrainOutcome>;
  /** Aggregated Prometheus text of every process; undefined in a single process (the admin reads its registry). */
  readonly metrics: (() => Promise<string>) | undefined;
  /** Worker process ids (empty in a single process). */
  pids(): number[];
}

export interface ServingOptions {
  readonly store: ConfigStore;
  readonly accounting: AccountingHolder;
  readonly workers: number;
  /** The environment the config's variables come from (the workers get it as theirs). */
  readonly env: Environment;
  /** Checked responses from workers (scored by the primary's health monitor). */
  readonly onVerdicts: (backend: string, model: string, results: readonly CheckResult[]) => void;
}

export async function startExtProcServing(options: ServingOptions): Promise<ExtProcServing> {
  const { store, accounting } = options;
  const { extproc } = store.current().config;
  if (options.workers <= 1) {
    const server = await startExtProcServer(
      store,
      extproc.address,
      extproc.unixSocket,
      { accounting: () => accounting.current() },
      extproc.tls,
    );
    return {
      port: server.port,
      workers: 1,
      setServing: (ready) => server.health.setServing(ready),
      drain: (timeoutMs, graceMs) => server.drain(timeoutMs, graceMs),
      metrics: undefined,
      pids: () => [],
    };
  }
  // The primary binds the shared socket for the workers: a stale file goes here, once, never in a worker.
  if (extproc.unixSocket) rmSync(extproc.unixSocket, { force: true });
  const pool = await startWorkers({
    count: options.workers,
    store,
    env: options.env,
    accounting,
    onVerdicts: options.onVerdicts,
  });
  return {
    port: pool.port,
    workers: options.workers,
    setServing: (ready) => pool.setReady(ready),
    drain: (timeoutMs, graceMs) => pool.drain(timeoutMs, graceMs),
    metrics: () => pool.metrics(),
    pids: () => pool.pids(),
  };
}
