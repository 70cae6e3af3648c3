// `llm-extproc start --envoy`: a real Envoy in front of the service on this machine, run from the bootstrap
// generated for the active config, so a newcomer's first curl goes through the engine production uses. With the
// service's xDS control plane enabled, the LLM clusters come over ADS and a reload reaches Envoy without a
// restart; otherwise a reload that changes the bootstrap (routes, backends, credentials present) restarts Envoy.
import type { ConfigStore } from '../config/store.js';
import { buildBootstrap } from '../envoyconfig/bootstrap.js';
import { errorMessage, log } from '../telemetry/log.js';
import { startEnvoy, type RunningEnvoy } from './process.js';

export interface LocalEnvoyOptions {
  readonly store: ConfigStore;
  /** Where Envoy reaches the service (host:port or unix:/path). */
  readonly extproc: string;
  /** Envoy's HTTP listener, e.g. 127.0.0.1:10000. */
  readonly listen: string;
  /** Envoy's admin listener; keep it on loopback. */
  readonly admin: string;
  /** The control plane (host:port) when the service runs one: the LLM clusters then come over ADS. */
  readonly xds?: string;
  /**
   * Envoy worker threads (default 1). Each opens its own ext_proc connection, and each connection is served by one
   * ext_proc worker process: the service passes its worker count so every one of them gets traffic.
   */
  readonly concurrency?: number;
}

export interface LocalEnvoy {
  readonly port: number;
  readonly adminUrl: string;
  close(): Promise<void>;
}

function bootstrapFor(options: LocalEnvoyOptions): string {
  const { config, topology } = options.store.current();
  const disabledBackends = new Set([...topology.backends.values()].filter((b) => b.disabledReason).map((b) => b.name));
  return JSON.stringify(
    buildBootstrap(config, {
      listen: options.listen,
      admin: options.admin,
      extproc: options.extproc,
      disabledBackends,
      ...(options.xds ? { xds: { address: options.xds } } : {}),
    }),
  );
}

async function launch(
  bootstrap: string,
  stopping: () => boolean,
  concurrency: number | undefined,
): Promise<RunningEnvoy> {
  const envoy = await startEnvoy({
    bootstrap,
    ...(concurrency !== undefined ? { concurrency } : {}),
    // Envoy's access log is the product's access log: one JSON object per line on stdout, as in production.
    onAccessLog: (entry) => process.stdout.write(JSON.stringify(entry) + '\n'),
    onLog: (line) => process.stderr.write(`envoy: ${line}\n`),
  });
  void envoy.exited.then((code) => {
    if (!stopping()) log.error('the local Envoy exited', { code });
  });
  return envoy;
}

/** Starts Envoy; throws (with Envoy's own words) when it cannot be installed or started. */
export async function startLocalEnvoy(options: LocalEnvoyOptions): Promise<LocalEnvoy> {
  let closing = false;
  let restartingNow = false;
  const stopping = () => closing || restartingNow;
  let bootstrap = bootstrapFor(options);
  let envoy = await launch(bootstrap, stopping, options.concurrency);
  const port = envoy.listenerPorts.get('llm_ingress') ?? 0;
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  // Restarts keep the ports first bound (the first start may have asked for port 0), so compare with those.
  const bound: LocalEnvoyOptions = {
    ...options,
    listen: `${host}:${port}`,
    admin: envoy.adminUrl.replace(/^http:\/\//, ''),
  };
  bootstrap = bootstrapFor(bound);
  let restarting: Promise<void> = Promise.resolve();

  const onReload = (outcome: { ok: boolean }) => {
    if (!outcome.ok || closing) return;
    // Decided when the queued step runs, against what Envoy really runs: a later reload may have reverted this one,
    // and a failed launch must be retried by the next reload.
    restarting = restarting.then(async () => {
      const next = bootstrapFor(bound);
      if (closing || next === bootstrap) return;
      log.info('config reloaded: restarting the local Envoy with the new bootstrap');
      restartingNow = true;
      await envoy.stop();
      bootstrap = '';
      try {
        envoy = await launch(next, stopping, options.concurrency);
        bootstrap = next;
        log.info('Envoy restarted', { listen: `${host}:${port}`, admin: envoy.adminUrl });
      } catch (err) {
        log.error('the local Envoy did not restart with the new bootstrap', { error: errorMessage(err) });
      } finally {
        restartingNow = false;
      }
    });
  };
  options.store.on('reload', onReload);
  log.info('Envoy started', { listen: `${host}:${port}`, admin: envoy.adminUrl });
  return {
    port,
    adminUrl: envoy.adminUrl,
    close: async () => {
      closing = true;
      options.store.off('reload', onReload);
      await restarting;
      await envoy.stop();
    },
  };
}
