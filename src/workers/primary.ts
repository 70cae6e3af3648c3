// The cluster primary's side of the ext_proc workers (docs/architecture.md, "Workers"). The primary keeps what
// must exist once — config watching, the budgets ledger of the memory store, the health monitor and probes, xDS,
// admin, the local data plane — and forks `count` workers that all listen on the ext_proc address: Node's cluster
// module owns the listening socket here and hands each accepted connection to the next worker in turn, so
// Envoy's ext_proc connections (one per Envoy worker thread, rotated every 500 streams by the generated
// bootstrap) spread over them. A worker that dies is replaced (logged, with a back-off if it keeps dying).
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { ConfigStore } from '../config/store.js';
import type { Environment } from '../config/topology.js';
import type { DrainOutcome } from '../extproc/server.js';
import type { CheckResult } from '../health/checks.js';
import type { AccountingHolder } from '../service-accounting.js';
import { errorMessage, log } from '../telemetry/log.js';
import { registry } from '../telemetry/metrics.js';
import { answerStoreCalls } from './budget-store.js';
import { fromWorkerSchema, isOurs, type FromWorker, type ToWorkerBody } from './protocol.js';
import { withServiceNodeFlags } from './node-flags.js';

export interface WorkerPoolOptions {
  readonly count: number;
  readonly store: ConfigStore;
  /** The workers' environment (provider keys named by the config): the service's. */
  readonly env: Environment;
  /** The primary's budgets: the ledger the workers' memory-store calls apply to. */
  readonly accounting: AccountingHolder;
  /** Checked responses from a worker, for the primary's HealthMonitor (record()). */
  readonly onVerdicts: (backend: string, model: string, results: readonly CheckResult[]) => void;
}

export interface WorkerPool {
  /** The ext_proc port every worker listens on. */
  readonly port: number;
  /** The primary's readiness, pushed to every worker's grpc health. */
  setReady(ready: boolean): void;
  /** Drains every worker (ext_proc drain semantics in each) and resolves when all have exited. */
  drain(timeoutMs: number, graceMs: number): Promise<DrainOutcome>;
  /** Prometheus text of the primary's registry and every worker's, aggregated (counters summed). */
  metrics(): Promise<string>;
  /** Workers alive now (tests, diagnostics). */
  pids(): number[];
}

const WORKER_ENTRY = fileURLToPath(new URL('./worker-main.js', import.meta.url));
/** A worker that dies younger than this is crash-looping: its replacement waits, longer each time. */
const STABLE_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;
const METRICS_TIMEOUT_MS = 2000;
/** Beyond the drain bound and grace: a worker that has not exited by then is killed. */
const EXIT_MARGIN_MS = 3000;

function send(worker: Worker, body: ToWorkerBody): void {
  if (worker.isConnected()) worker.send({ llmx: 1, ...body });
}

export async function startWorkers(options: WorkerPoolOptions): Promise<WorkerPool> {
  // Workers run our entry, not whatever started this process (the CLI, a test file); test-runner flags stay here.
  cluster.setupPrimary({
    exec: WORKER_ENTRY,
    execArgv: withServiceNodeFlags(
      process.execArgv.filter((arg) => !arg.startsWith('--test')),
      process.env.NODE_OPTIONS,
    ),
    serialization: 'json',
  });
  const { store, accounting } = options;
  const env = Object.fromEntries(
    Object.entries(options.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const alive = new Set<Worker>();
  let ready = false;
  let stopping = false;
  let restartDelay = 0;
  /** Every initial worker listened: from then on a worker that exits, even one that failed to start, is replaced. */
  let up = false;
  let port: number | undefined;
  let nextMetricsId = 0;
  const metricsWaiters = new Map<number, (metrics: MetricObjectWithValues<MetricValue<string>>[]) => void>();
  const drained = new Map<Worker, DrainOutcome>();

  const handle = (worker: Worker, message: FromWorker): void => {
    switch (message.kind) {
      case 'store':
        void answerStoreCalls(message.calls, (key) => accounting.budgetsFor(key)).then((replies) =>
          send(worker, { kind: 'store', replies }),
        );
        return;
      case 'verdicts':
        for (const { backend, model, results } of message.batch) options.onVerdicts(backend, model, results);
        return;
      case 'metrics':
        metricsWaiters.get(message.id)?.(message.metrics as MetricObjectWithValues<MetricValue<string>>[]);
        return;
      case 'drained':
        drained.set(worker, { forced: message.forced, cutStreams: message.cutStreams });
        return;
      case 'hello':
      case 'listening':
      case 'failed':
        return; // start-up, handled by fork()
    }
  };

  /** Forks one worker; resolves with its port once it listens, rejects if it fails or dies first. */
  const fork = (): Promise<number> => {
    const worker = cluster.fork(env);
    const bornAt = Date.now();
    // A send racing the worker's death fails with EPIPE on the channel; its 'exit' is what matters.
    worker.on('error', (err) =>
      log.debug('ext_proc worker channel error', { worker: worker.id, error: errorMessage(err) }),
    );
    alive.add(worker);
    return new Promise<number>((resolve, reject) => {
      let started = false;
      worker.on('message', (raw: unknown) => {
        if (!isOurs(raw)) return;
        const parsed = fromWorkerSchema.safeParse(raw);
        if (!parsed.success) {
          log.error('ext_proc worker sent an unreadable message', {
            worker: worker.id,
            error: parsed.error.issues[0]?.message,
          });
          return;
        }
        const message = parsed.data;
        if (message.kind === 'hello') {
          // The config as it is now: a reload between fork and hello is included.
          const snapshot = store.current();
          send(worker, {
            kind: 'start',
            configFile: store.file,
            config: snapshot.config,
            generation: snapshot.generation,
            ready,
          });
        } else if (message.kind === 'listening') {
          started = true;
          resolve(message.port);
        } else if (message.kind === 'failed') {
          reject(new Error(`ext_proc worker failed to start: ${message.error}`));
        } else handle(worker, message);
      });
      worker.on('exit', (code, signal) => {
        alive.delete(worker);
        if (!started) reject(new Error(`ext_proc worker exited before listening (code ${code}, signal ${signal})`));
        // At start-up a failure fails the service (startWorkers throws); after it, every lost worker is replaced.
        if (stopping || !up) return;
        // Crash loop guard: immediate replacement for a worker that ran a while, doubling waits for one that did not.
        restartDelay =
          Date.now() - bornAt >= STABLE_AFTER_MS ? 0 : Math.min(MAX_RESTART_DELAY_MS, Math.max(100, restartDelay * 2));
        log.error('ext_proc worker exited; starting a replacement', {
          worker: worker.id,
          pid: worker.process.pid,
          code,
          signal,
          inMs: restartDelay,
        });
        setTimeout(() => {
          if (stopping) return;
          fork().catch((err: unknown) => log.error('ext_proc worker replacement failed', { error: errorMessage(err) }));
        }, restartDelay).unref();
      });
    });
  };

  const onReload = (outcome: { ok: boolean }) => {
    if (!outcome.ok) return;
    const { config, generation } = store.current();
    for (const worker of alive) send(worker, { kind: 'config', config, generation });
  };
  store.on('reload', onReload);

  try {
    const ports = await Promise.all(Array.from({ length: options.count }, () => fork()));
    port = ports[0];
  } catch (err) {
    stopping = true;
    store.off('reload', onReload);
    for (const worker of alive) worker.kill();
    throw err;
  }
  if (port === undefined) throw new Error('no ext_proc worker started');
  up = true;
  log.info('ext_proc workers started', { workers: options.count, pids: [...alive].map((w) => w.process.pid) });

  let drainedAll: Promise<DrainOutcome> | undefined;
  return {
    port,
    setReady: (value) => {
      ready = value;
      for (const worker of alive) send(worker, { kind: 'ready', ready });
    },
    drain: (timeoutMs, graceMs) =>
      (drainedAll ??= (async () => {
        stopping = true;
        store.off('reload', onReload);
        const exits = [...alive].map(
          (worker) =>
            new Promise<DrainOutcome>((resolve) => {
              const killer = setTimeout(
                () => {
                  log.warn('ext_proc worker did not exit after its drain; killing it', { worker: worker.id });
                  worker.process.kill('SIGKILL');
                },
                timeoutMs + graceMs + EXIT_MARGIN_MS,
              );
              worker.once('exit', () => {
                clearTimeout(killer);
                resolve(drained.get(worker) ?? { forced: true, cutStreams: 0 });
              });
              if (worker.isDead()) {
                clearTimeout(killer);
                resolve(drained.get(worker) ?? { forced: false, cutStreams: 0 });
                return;
              }
              send(worker, { kind: 'drain', boundMs: timeoutMs, graceMs });
            }),
        );
        const outcomes = await Promise.all(exits);
        return {
          forced: outcomes.some((o) => o.forced),
          cutStreams: outcomes.reduce((sum, o) => sum + o.cutStreams, 0),
        };
      })()),
    metrics: async () => {
      const own = await registry.getMetricsAsJSON();
      const theirs = await Promise.all(
        [...alive]
          .filter((w) => w.isConnected())
          .map(
            (worker) =>
              new Promise<MetricObjectWithValues<MetricValue<string>>[]>((resolve) => {
                const id = nextMetricsId++;
                // A worker too busy (or dying) to answer is left out of this scrape rather than failing it.
                const timer = setTimeout(() => {
                  metricsWaiters.delete(id);
                  resolve([]);
                }, METRICS_TIMEOUT_MS);
                metricsWaiters.set(id, (metrics) => {
                  clearTimeout(timer);
                  metricsWaiters.delete(id);
                  resolve(metrics);
                });
                send(worker, { kind: 'metrics', id });
              }),
          ),
      );
      return AggregatorRegistry.aggregate([own, ...theirs]).metrics();
    },
    pids: () => [...alive].flatMap((w) => (w.process.pid === undefined ? [] : [w.process.pid])),
  };
}
