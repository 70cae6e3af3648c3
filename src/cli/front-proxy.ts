// What `llm-extproc start --envoy` puts in front of the service: the pinned Envoy from the generated bootstrap, or —
// when Envoy cannot be installed or started here (no Python, no registry) — the stand-in data plane, said in one
// line so nobody mistakes one for the other.
import type { ServiceConfig } from '../config/schema.js';
import { startDataPlane } from '../dataplane/server.js';
import { startLocalEnvoy } from '../envoy/local-envoy.js';
import type { RunningService } from '../service.js';
import { errorMessage, log } from '../telemetry/log.js';
import { splitHostPort } from '../util/address.js';

export interface FrontProxy {
  readonly kind: 'envoy' | 'stand-in';
  readonly url: string;
  close(): Promise<void>;
}

export interface FrontProxyOptions {
  /** Envoy's listener (host:port). */
  readonly listen: string;
  /** Envoy's admin listener (host:port, loopback). */
  readonly admin: string;
}

export async function startFrontProxy(
  service: RunningService,
  config: ServiceConfig,
  options: FrontProxyOptions,
): Promise<FrontProxy> {
  // The hosts the service bound (a wildcard is reached on loopback), not always 127.0.0.1 (e.g. --extproc [::1]:0).
  const reach = (address: string, port: number): string => {
    const { host } = splitHostPort(address);
    const target = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
    return `${target.includes(':') ? `[${target}]` : target}:${port}`;
  };
  const current = service.store.current().config;
  const extproc = reach(current.extproc.address, service.extprocPort);
  try {
    const envoy = await startLocalEnvoy({
      store: service.store,
      extproc,
      listen: options.listen,
      admin: options.admin,
      ...(service.xdsPort !== undefined ? { xds: reach(current.xds.address, service.xdsPort) } : {}),
      // One Envoy thread (one ext_proc connection) per ext_proc worker, so every worker gets traffic.
      ...(service.workers > 1 ? { concurrency: service.workers } : {}),
    });
    const host = splitHostPort(options.listen).host;
    return { kind: 'envoy', url: `http://${host}:${envoy.port}`, close: envoy.close };
  } catch (err) {
    const firstLine = errorMessage(err).split('\n')[0] ?? 'unknown error';
    const { host, port } = splitHostPort(config.dataPlane.address);
    process.stderr.write(
      `Envoy is not available (${firstLine}); falling back to the stand-in data plane on ${host}:${port}.\n`,
    );
    const dataPlane = await startDataPlane({
      host,
      port,
      extprocTarget: extproc,
      topology: () => service.store.current().topology,
      settings: () => service.store.current().config.dataPlane,
      log: ({ event, ...fields }) => log.info(`dataplane: ${event}`, fields),
    });
    return { kind: 'stand-in', url: `http://${host}:${dataPlane.port}`, close: dataPlane.close };
  }
}
