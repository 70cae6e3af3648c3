// Starts the whole service: ext_proc gRPC, admin HTTP and (for development) the local data plane, all reading
// one ConfigStore so a reload reaches every part at once.
import { startAdminServer, type AdminServer } from './admin/server.js';
import { ConfigStore } from './config/store.js';
import type { ServiceConfig } from './config/schema.js';
import type { ConfigResult } from './config/load.js';
import { backendsView, type Environment } from './config/topology.js';
import { startDataPlane, type AccessLogEntry } from './dataplane/server.js';
import { startControlPlane } from './xds/control-plane.js';
import { startHealth } from './health/index.js';
import type { HealthMonitor } from './health/monitor.js';
import { startExtProcServing, type ExtProcServing } from './workers/index.js';
import { errorMessage, log, setLogLevel } from './telemetry/log.js';
import { AccountingHolder, encodingsForConfig } from './service-accounting.js';
import { Readiness } from './service-readiness.js';
import { metrics } from './telemetry/metrics.js';
import { splitHostPort } from './util/address.js';
import { isLoopbackHost } from './security/tls.js';
import { Secret } from './util/secret.js';

export interface RunningService {
  readonly store: ConfigStore;
  readonly extprocPort: number;
  readonly adminPort: number | undefined;
  readonly dataPlanePort: number | undefined;
  /** The xDS control plane's port when `xds.enabled`. */
  readonly xdsPort: number | undefined;
  /** Processes serving ext_proc (1: this one; more: cluster workers, src/workers/). */
  readonly workers: number;
  /** The ext_proc worker processes' ids (empty with one worker). */
  workerPids(): number[];
  /**
   * Graceful stop (SIGTERM): not ready (health NOT_SERVING, /readyz 503), new ext_proc streams refused, open ones
   * given up to extproc.drainTimeoutMs to finish, then everything closed.
   */
  drain(graceMs?: number): Promise<void>;
  /** drain() with a short bound. */
  close(): Promise<void>;
}

/** close()'s bound on open ext_proc streams. */
const CLOSE_BOUND_MS = 2000;

export interface StartOptions {
  readonly configFile: string;
  readonly config: ServiceConfig;
  readonly env?: Environment;
  /** Reload on file change and SIGHUP (the CLI turns this on; tests usually call store.reload()). */
  readonly watch?: boolean;
  /** Where the local data plane writes its access log (default: JSON lines on stdout, like Envoy's). */
  readonly accessLog?: (entry: AccessLogEntry) => void;
  /** ext_proc processes when the config has no extproc.workers (default 1; the CLI passes the machine's cores). */
  readonly workers?: number;
  /** How a reload reads the config file (default loadConfigFile): the CLI's start-time overrides, applied again. */
  readonly loadConfig?: (file: string) => ConfigResult;
}

export async function startService(options: StartOptions): Promise<RunningService> {
  const store = new ConfigStore(options.configFile, options.config, options.env ?? process.env, options.loadConfig);
  const { config } = store.current();
  setLogLevel(config.logging.level);
  metrics.configGeneration.set(1);
  store.on('reload', (outcome: { ok: boolean; generation?: number }) => {
    metrics.configReloads.inc({ result: outcome.ok ? 'applied' : 'rejected' });
    if (outcome.ok && outcome.generation !== undefined) {
      metrics.configGeneration.set(outcome.generation);
      setLogLevel(store.current().config.logging.level);
    }
  });

  const accounting = new AccountingHolder();
  const readiness = new Readiness(() => accounting.notReadyReasons());
  // Budgets (and the tokenizer they need) are ready before the first request can arrive.
  await accounting.apply(config.budgets, encodingsForConfig(config));
  store.on('reload', (outcome: { ok: boolean }) => {
    if (!outcome.ok) return;
    const { config: next } = store.current();
    const applied = accounting.apply(next.budgets, encodingsForConfig(next));
    readiness.refresh(); // a newly configured budget may have started loading the tokenizer
    applied.then(
      () => readiness.refresh(),
      (err: unknown) => log.error('budgets reload failed', { error: errorMessage(err) }),
    );
  });

  // admin.tokenEnv set but its variable empty: protected paths stay closed (an empty token never matches).
  const env = options.env ?? process.env;
  const adminToken = config.admin.tokenEnv === undefined ? undefined : (env[config.admin.tokenEnv] ?? '');
  if (config.admin.enabled && config.admin.tokenEnv !== undefined && !adminToken) {
    log.warn(
      'admin.tokenEnv names an unset variable: /budgets and operator actions are refused until it is set and the service restarted',
      { variable: config.admin.tokenEnv },
    );
  }
  warnIfInsecure(config);

  const closers: Array<() => Promise<void>> = [() => accounting.close()];
  let extproc: ExtProcServing | undefined;
  let admin: AdminServer | undefined;
  let dataPlanePort: number | undefined;
  let xdsPort: number | undefined;
  try {
    // With workers, their checked responses are scored by this process's monitor (started below).
    let monitor: HealthMonitor | undefined;
    const serving = await startExtProcServing({
      store,
      accounting,
      workers: config.extproc.workers ?? options.workers ?? 1,
      env,
      onVerdicts: (backend, model, results) => monitor?.record(backend, model, results, 'response'),
    });
    extproc = serving;
    closers.push(() => serving.drain(CLOSE_BOUND_MS, 0).then(() => undefined));
    readiness.subscribe((ready) => serving.setServing(ready));
    // The data plane dials the port actually bound (the config may say :0); a wildcard address is reached on loopback.
    const extprocHost = splitHostPort(config.extproc.address).host;
    const extprocTarget = `${extprocHost === '0.0.0.0' || extprocHost === '::' ? '127.0.0.1' : extprocHost}:${extproc.port}`;

    // The stand-in data plane speaks plaintext gRPC only; with mutual TLS on ext_proc only a real Envoy can call it.
    if (config.dataPlane.enabled && config.extproc.tls)
      log.warn('dataPlane (the stand-in) is not started: it cannot speak mutual TLS to extproc');
    if (config.dataPlane.enabled && !config.extproc.tls) {
      const { host, port } = splitHostPort(config.dataPlane.address);
      const dataPlane = await startDataPlane({
        host,
        port,
        extprocTarget,
        topology: () => store.current().topology,
        settings: () => store.current().config.dataPlane,
        ...(options.accessLog ? { accessLog: options.accessLog } : {}),
        log: ({ event, ...fields }) => log.info(`dataplane: ${event}`, fields),
      });
      dataPlanePort = dataPlane.port;
      closers.push(dataPlane.close);
    }

    // Semantic health (docs/health.md): verdicts on every response; with xDS they steer Envoy's endpoints.
    const semanticHealth = startHealth(store, { accounting: () => accounting.current() });
    monitor = semanticHealth.monitor;
    closers.push(semanticHealth.close);
    if (config.xds.enabled) {
      const controlPlane = await startControlPlane(
        store,
        config.xds.address,
        config.xds.tls ? { tls: config.xds.tls } : {},
      );
      xdsPort = controlPlane.port;
      closers.push(controlPlane.close);
      semanticHealth.attach((backend, state) => controlPlane.setBackendState(backend, state));
    }

    if (config.admin.enabled) {
      const { host, port } = splitHostPort(config.admin.address);
      admin = await startAdminServer({
        host,
        port,
        notReadyReasons: () => readiness.reasons(),
        budgets: () => accounting.snapshot(),
        backends: () => semanticHealth.backendsView(backendsView(store.current().topology)),
        healthBackends: () => semanticHealth.view(),
        operateBackend: (backend, action) => semanticHealth.operate(backend, action),
        ...(serving.metrics ? { metrics: serving.metrics } : {}),
        ...(adminToken !== undefined ? { token: new Secret(adminToken) } : {}),
        ...(config.admin.tls ? { tls: config.admin.tls } : {}),
      });
      closers.push(admin.close);
    }
  } catch (err) {
    await Promise.all(closers.map((close) => close()));
    throw err;
  }
  if (options.watch) store.watch();

  const bound = (address: string, port: number) => `${splitHostPort(address).host}:${port}`;
  log.info('llm-extproc started', {
    extproc: bound(config.extproc.address, extproc.port),
    workers: extproc.workers,
    extprocTls: config.extproc.tls ? 'mutual TLS' : 'plaintext',
    unixSocket: config.extproc.unixSocket,
    admin: admin ? bound(config.admin.address, admin.port) : 'disabled',
    dataPlane: dataPlanePort === undefined ? 'disabled' : bound(config.dataPlane.address, dataPlanePort),
    xds: xdsPort === undefined ? 'disabled' : bound(config.xds.address, xdsPort),
    backends: [...store.current().topology.backends.values()].map((b) => ({
      name: b.name,
      enabled: !b.disabledReason,
      reason: b.disabledReason,
    })),
  });

  const listening = extproc;
  let stopped: Promise<void> | undefined;
  // Admin stays up through the drain so /readyz answers 503 rather than refusing connections.
  const stop = (boundMs: number, graceMs: number): Promise<void> =>
    (stopped ??= (async () => {
      readiness.drain();
      store.close();
      const outcome = await listening.drain(boundMs, graceMs);
      if (outcome.forced)
        log.warn('drain bound reached: open ext_proc streams were cut', { streams: outcome.cutStreams, boundMs });
      await Promise.all(closers.reverse().map((close) => close()));
    })());

  return {
    store,
    extprocPort: extproc.port,
    adminPort: admin?.port,
    dataPlanePort,
    xdsPort,
    workers: extproc.workers,
    workerPids: () => listening.pids(),
    drain: (graceMs = store.current().config.extproc.drainGraceMs) =>
      stop(store.current().config.extproc.drainTimeoutMs, graceMs),
    close: () => stop(CLOSE_BOUND_MS, 0),
  };
}

/** Every start says so when a listener beyond loopback runs without protection (extproc/admin/xds allowInsecure). */
function warnIfInsecure(config: ServiceConfig): void {
  const { extproc, admin, xds } = config;
  if (xds.enabled && !xds.tls && !isLoopbackHost(splitHostPort(xds.address).host)) {
    log.warn(
      'INSECURE: xDS listens beyond loopback in plaintext (xds.allowInsecure): anyone who reaches it learns every provider endpoint and cluster setting',
      {
        address: xds.address,
      },
    );
  }
  if (!extproc.tls && !isLoopbackHost(splitHostPort(extproc.address).host)) {
    log.warn(
      'INSECURE: ext_proc listens beyond loopback in plaintext (extproc.allowInsecure): anyone who reaches it can obtain provider credentials and charge any tenant',
      {
        address: extproc.address,
      },
    );
  }
  if (admin.enabled && !admin.tls && !admin.tokenEnv && !isLoopbackHost(splitHostPort(admin.address).host)) {
    log.warn(
      'INSECURE: admin listens beyond loopback without a token or mTLS (admin.allowInsecure): /budgets and operator actions are open',
      {
        address: admin.address,
      },
    );
  }
}
