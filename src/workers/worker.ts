// An ext_proc worker process (forked by src/workers/primary.ts): serves ext_proc on the port the cluster shares,
// with the config the primary sends (never its own file watching), budgets through the primary's ledger (memory
// store) or Redis directly, and health verdicts forwarded to the primary's monitor. Signals are the primary's
// business: it drains the workers itself, so a Ctrl-C reaching the whole process group does not cut streams here.
import { Budgets, type BudgetHooks } from '../budget/budgets.js';
import type { BudgetsConfig } from '../budget/config.js';
import { serviceConfigSchema, type ServiceConfig } from '../config/schema.js';
import { ConfigStore } from '../config/store.js';
import { startExtProcServer, type ListeningServer } from '../extproc/server.js';
import { healthTap } from '../health/tap.js';
import { AccountingHolder, budgetsKey, encodingsForConfig } from '../service-accounting.js';
import { Readiness } from '../service-readiness.js';
import { errorMessage, log, setLogLevel } from '../telemetry/log.js';
import { metrics, registry } from '../telemetry/metrics.js';
import { batchedStoreCaller, IpcBudgetStore, PendingCalls } from './budget-store.js';
import { ForwardingObserver } from './health.js';
import { isOurs, Outbox, toWorkerSchema, type FromWorkerBody, type ToWorker } from './protocol.js';
import type { CheckResult } from '../health/checks.js';

function post(body: FromWorkerBody): void {
  // A primary that went away disconnects us and cluster exits this process; nothing to do here.
  if (process.connected) process.send?.({ llmx: 1, ...body });
}

/** The last word: disconnecting (which ends this worker) only once the message has left. */
function postAndLeave(body: FromWorkerBody): void {
  if (!process.connected || !process.send) process.exit();
  process.send({ llmx: 1, ...body }, () => process.disconnect());
}

function parseServiceConfig(value: unknown): ServiceConfig {
  const parsed = serviceConfigSchema.safeParse(value);
  if (!parsed.success)
    throw new Error(`config from the primary does not validate: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

interface Running {
  readonly store: ConfigStore;
  readonly accounting: AccountingHolder;
  readonly readiness: Readiness;
  readonly server: ListeningServer;
  primaryReady: boolean;
}

export function runWorker(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  const calls = new PendingCalls();
  let running: Running | undefined;
  let starting = false;
  // Sent while the worker was still starting: applied once it runs.
  let early: Extract<ToWorker, { kind: 'config' | 'ready' }>[] = [];

  const onMessage = async (message: ToWorker): Promise<void> => {
    switch (message.kind) {
      case 'start': {
        if (starting) return;
        starting = true;
        running = await start(
          message.configFile,
          parseServiceConfig(message.config),
          message.generation,
          message.ready,
          calls,
        );
        post({ kind: 'listening', port: running.server.port });
        for (const queued of early) await onMessage(queued);
        early = [];
        return;
      }
      case 'store':
        for (const reply of message.replies) calls.answer(reply.id, reply.ok, reply.value, reply.error);
        return;
      case 'metrics':
        post({ kind: 'metrics', id: message.id, metrics: await registry.getMetricsAsJSON() });
        return;
      case 'config': {
        if (!running) {
          early.push(message);
          return;
        }
        if (message.generation <= running.store.current().generation) return;
        const outcome = running.store.adopt(parseServiceConfig(message.config), message.generation);
        if (!outcome.ok) return;
        const { config } = running.store.current();
        setLogLevel(config.logging.level);
        metrics.configGeneration.set(message.generation);
        const { accounting, readiness } = running;
        const applied = accounting.apply(config.budgets, encodingsForConfig(config));
        readiness.refresh();
        await applied;
        readiness.refresh();
        return;
      }
      case 'ready':
        if (!running) {
          early.push(message);
          return;
        }
        running.primaryReady = message.ready;
        running.readiness.refresh();
        return;
      case 'drain': {
        if (!running) process.exit(0);
        running.readiness.drain();
        const outcome = await running.server.drain(message.boundMs, message.graceMs);
        await running.accounting.close();
        postAndLeave({ kind: 'drained', forced: outcome.forced, cutStreams: outcome.cutStreams });
        return;
      }
    }
  };

  process.on('message', (raw: unknown) => {
    if (!isOurs(raw)) return;
    const parsed = toWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      log.error('ext_proc worker: unreadable message from the primary', { error: parsed.error.issues[0]?.message });
      return;
    }
    onMessage(parsed.data).catch((err: unknown) => {
      if (parsed.data.kind === 'start') {
        process.exitCode = 1;
        postAndLeave({ kind: 'failed', error: errorMessage(err) });
        return;
      }
      log.error('ext_proc worker: message failed', { kind: parsed.data.kind, error: errorMessage(err) });
    });
  });
  post({ kind: 'hello' });
}

async function start(
  configFile: string,
  config: ServiceConfig,
  generation: number,
  ready: boolean,
  calls: PendingCalls,
): Promise<Running> {
  const store = new ConfigStore(configFile, config, process.env);
  if (generation !== 1) store.adopt(config, generation);
  setLogLevel(config.logging.level);
  metrics.configGeneration.set(generation);

  const caller = batchedStoreCaller(calls, (batch) => post({ kind: 'store', calls: batch }));
  const verdicts = new Outbox<{ backend: string; model: string; results: CheckResult[] }>((batch) =>
    post({ kind: 'verdicts', batch }),
  );
  const createBudgets = (budgetsConfig: BudgetsConfig, hooks: BudgetHooks): Budgets =>
    budgetsConfig.store.kind === 'memory'
      ? new Budgets(budgetsConfig, new IpcBudgetStore(caller, budgetsKey(budgetsConfig)), hooks)
      : Budgets.create(budgetsConfig, hooks);
  const accounting = new AccountingHolder({ createBudgets, exportsRemaining: false });
  await accounting.apply(config.budgets, encodingsForConfig(config));

  healthTap.install(
    new ForwardingObserver(store, (backend, model, results) => verdicts.push({ backend, model, results })),
  );
  const server = await startExtProcServer(
    store,
    config.extproc.address,
    config.extproc.unixSocket,
    { accounting: () => accounting.current() },
    config.extproc.tls,
    {
      removeStaleSocket: false,
    },
  );
  const running: Running = {
    store,
    accounting,
    readiness: new Readiness(() => [
      ...(running.primaryReady ? [] : ['primary not ready']),
      ...accounting.notReadyReasons(),
    ]),
    server,
    primaryReady: ready,
  };
  running.readiness.subscribe((serving) => server.health.setServing(serving));
  return running;
}
