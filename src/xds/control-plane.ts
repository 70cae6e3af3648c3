// The xDS control plane: serves ADS (src/xds/ads.ts) on its own gRPC listener and keeps the published state in step
// with the config (reloads), provider DNS (EDS needs IP literals: hostnames are resolved here and re-resolved on
// their TTL) and each backend's verdict state (weight, health).
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { ConfigStore } from '../config/store.js';
import { backendBaseUrl } from '../config/topology.js';
import { grpcServerCredentials, type TlsOptions } from '../security/tls.js';
import { errorMessage, log } from '../telemetry/log.js';
import { aggregatedDiscoveryService, endpointDiscoveryService } from './ads.js';
import { buildResources, type BackendState } from './resources.js';
import { SnapshotStore } from './snapshot.js';

/** Re-resolution bounds: a record's TTL, clamped (0-TTL records would spin; long ones would hide failover). */
const MIN_TTL_MS = 5_000;
const MAX_TTL_MS = 300_000;

export interface ControlPlane {
  readonly port: number;
  readonly snapshots: SnapshotStore;
  /** Sets a backend's published weight and health (from verdicts); undefined restores the config's. */
  setBackendState(backend: string, state: BackendState | undefined): void;
  close(): Promise<void>;
}

interface Resolved {
  addresses: readonly string[];
  timer: NodeJS.Timeout | undefined;
}

export interface ControlPlaneOptions {
  /** Publish a Listener per model for proxyless gRPC clients (resources.ts `grpcListeners`). */
  readonly grpcListeners?: boolean;
  /** Mutual TLS with a client allowlist (config xds.tls), exactly as on the ext_proc listener (src/security/tls.ts). */
  readonly tls?: TlsOptions;
}

/** The listener's credentials: mutual TLS and the allowlist interceptor when configured, else plaintext. */
function serverCredentials(tls: TlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  // A refused client (an Envoy with the wrong certificate) reconnects with back-off: one line per reason per minute.
  const lastRefusalLog = new Map<string, number>();
  return grpcServerCredentials(tls, {
    onRefused: (reason, method) => {
      const now = Date.now();
      if (now - (lastRefusalLog.get(reason) ?? 0) < 60_000) return;
      lastRefusalLog.set(reason, now);
      if (lastRefusalLog.size > 1000) lastRefusalLog.clear();
      log.warn('xDS call refused', { method, reason });
    },
    onFileError: (err) => log.warn('xds TLS files unusable; keeping the previous ones', { error: errorMessage(err) }),
  });
}

export async function startControlPlane(
  store: ConfigStore,
  address: string,
  options: ControlPlaneOptions = {},
): Promise<ControlPlane> {
  // First: unreadable TLS files or a key that does not match stop the start before anything runs.
  const credentials = serverCredentials(options.tls);
  const snapshots = new SnapshotStore();
  const states = new Map<string, BackendState>();
  const resolved = new Map<string, Resolved>();
  let closed = false;

  const publish = () => {
    const { config, topology } = store.current();
    const disabledBackends = new Set(
      [...topology.backends.values()].filter((b) => b.disabledReason).map((b) => b.name),
    );
    try {
      snapshots.update(
        buildResources({
          config,
          disabledBackends,
          addresses: (host) => (isIP(host) ? [host] : (resolved.get(host)?.addresses ?? [])),
          state: (backend) => states.get(backend),
          ...(options.grpcListeners ? { grpcListeners: true } : {}),
        }),
      );
    } catch (err) {
      log.error('xDS resources could not be built; the last published state stays', { error: errorMessage(err) });
    }
  };

  const resolve = async (host: string): Promise<void> => {
    const entry = resolved.get(host);
    if (!entry || closed) return;
    let ttlMs = MIN_TTL_MS;
    try {
      const records = await dns.resolve4(host, { ttl: true });
      ttlMs = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.min(...records.map((r) => r.ttl)) * 1000));
      entry.addresses = records.map((r) => r.address).sort();
    } catch {
      // resolve4 asks DNS servers only; /etc/hosts names (localhost, test hosts) come from the system resolver.
      try {
        const found = await dns.lookup(host, { all: true, family: 4 });
        entry.addresses = found.map((a) => a.address).sort();
      } catch (err) {
        // Keep the last addresses: a DNS blip must not empty a cluster.
        log.warn('provider hostname did not resolve; keeping its last addresses', { host, error: errorMessage(err) });
      }
    }
    if (closed) return;
    entry.timer = setTimeout(() => void resolve(host).then(publish), ttlMs);
    entry.timer.unref();
  };

  const track = async () => {
    const hosts = new Set<string>();
    for (const backend of store.current().config.backends) {
      const host = new URL(backendBaseUrl(backend)).hostname.replace(/^\[(.*)\]$/, '$1');
      if (!isIP(host)) hosts.add(host);
    }
    for (const [host, entry] of resolved) {
      if (hosts.has(host)) continue;
      clearTimeout(entry.timer);
      resolved.delete(host);
    }
    const fresh = [...hosts].filter((h) => !resolved.has(h));
    for (const host of fresh) resolved.set(host, { addresses: [], timer: undefined });
    await Promise.all(fresh.map(resolve));
    publish();
  };

  await track();
  const onReload = (outcome: { ok: boolean }) => {
    if (outcome.ok) void track();
  };
  store.on('reload', onReload);

  const server = new grpc.Server();
  const ads = aggregatedDiscoveryService(snapshots);
  server.addService(ads.definition, ads.implementation);
  // EDS alone, for Envoys whose ADS is another control plane (an Istio gateway: istio-manifests --xds).
  const eds = endpointDiscoveryService(snapshots);
  server.addService(eds.definition, eds.implementation);
  let port: number;
  try {
    port = await new Promise<number>((resolvePort, reject) =>
      server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolvePort(bound))),
    );
  } catch (err) {
    // Nothing may outlive a failed start: the reload listener and the DNS re-resolution timers.
    closed = true;
    store.off('reload', onReload);
    for (const entry of resolved.values()) clearTimeout(entry.timer);
    throw err;
  }

  return {
    port,
    snapshots,
    setBackendState: (backend, state) => {
      if (state) states.set(backend, state);
      else states.delete(backend);
      publish();
    },
    close: async () => {
      closed = true;
      store.off('reload', onReload);
      for (const entry of resolved.values()) clearTimeout(entry.timer);
      // xDS streams never end on their own (clients keep them open to hear updates): give them a moment, then cut
      // them; clients reconnect to another replica.
      await new Promise<void>((done) => {
        const bound = setTimeout(() => {
          server.forceShutdown();
          done();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(bound);
          done();
        });
      });
    },
  };
}
