// The control plane's current state: every resource encoded once, with a version per resource (a digest of its
// bytes, so an unchanged resource keeps its version across rebuilds) and a version per type (for state-of-the-
// world responses). Streams read it; `update` replaces it and tells them.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { JsonObject } from '../util/json.js';
import { sharedRegistry } from '../envoyconfig/registry.js';
import { ProtoJsonEncoder, type EncodedAny } from './proto-json.js';
import { CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, type Resources } from './resources.js';

export interface VersionedResource {
  readonly name: string;
  readonly version: string;
  readonly resource: EncodedAny;
}

export interface TypeSnapshot {
  /** Changes whenever any resource of the type changes (digest of every resource version). */
  readonly version: string;
  readonly resources: ReadonlyMap<string, VersionedResource>;
}

export const SERVED_TYPES = [LISTENER_TYPE_URL, CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL] as const;
const MESSAGE_TYPES: Record<(typeof SERVED_TYPES)[number], string> = {
  [LISTENER_TYPE_URL]: 'envoy.config.listener.v3.Listener',
  [CLUSTER_TYPE_URL]: 'envoy.config.cluster.v3.Cluster',
  [ENDPOINT_TYPE_URL]: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
};

const digest = (parts: readonly (string | Buffer)[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
};

/** A resource's JSON text and what it encoded to: an unchanged resource is not encoded again. */
type EncodeCache = Map<string, { readonly json: string; readonly resource: VersionedResource }>;

function typeSnapshot(
  typeName: string,
  resources: ReadonlyMap<string, JsonObject>,
  encoder: ProtoJsonEncoder,
  cache: EncodeCache,
): TypeSnapshot {
  const out = new Map<string, VersionedResource>();
  for (const [name, value] of resources) {
    // Encoding is the expensive step (protobufjs reflection: ~80 µs per cluster); a verdict changes one backend's
    // assignments, and every cluster would otherwise be re-encoded on each change (bench/xds-push.ts --routes).
    const json = JSON.stringify(value);
    const cached = cache.get(name);
    if (cached?.json === json) {
      out.set(name, cached.resource);
      continue;
    }
    const resource = encoder.encodeAny(typeName, value);
    const versioned = { name, version: digest([resource.value]), resource };
    out.set(name, versioned);
    cache.set(name, { json, resource: versioned });
  }
  for (const name of cache.keys()) if (!resources.has(name)) cache.delete(name);
  const version = digest(
    [...out.values()].sort((a, b) => a.name.localeCompare(b.name)).flatMap((r) => [r.name, r.version]),
  );
  return { version, resources: out };
}

export class SnapshotStore extends EventEmitter {
  constructor() {
    super();
    // Every xDS stream listens for changes; more than ten clients is normal, not a leak.
    this.setMaxListeners(0);
  }

  readonly #encoder = new ProtoJsonEncoder(sharedRegistry());
  #types = new Map<string, TypeSnapshot>(SERVED_TYPES.map((t) => [t, { version: '', resources: new Map() }]));
  readonly #caches = new Map<string, EncodeCache>(SERVED_TYPES.map((t) => [t, new Map()]));
  #cache(typeUrl: string): EncodeCache {
    return this.#caches.get(typeUrl) ?? new Map();
  }

  /** Replaces the state; streams are told only when something changed. */
  update(resources: Resources): void {
    const next = new Map<string, TypeSnapshot>([
      [
        LISTENER_TYPE_URL,
        typeSnapshot(
          MESSAGE_TYPES[LISTENER_TYPE_URL],
          resources.listeners,
          this.#encoder,
          this.#cache(LISTENER_TYPE_URL),
        ),
      ],
      [
        CLUSTER_TYPE_URL,
        typeSnapshot(MESSAGE_TYPES[CLUSTER_TYPE_URL], resources.clusters, this.#encoder, this.#cache(CLUSTER_TYPE_URL)),
      ],
      [
        ENDPOINT_TYPE_URL,
        typeSnapshot(
          MESSAGE_TYPES[ENDPOINT_TYPE_URL],
          resources.loadAssignments,
          this.#encoder,
          this.#cache(ENDPOINT_TYPE_URL),
        ),
      ],
    ]);
    const changed = SERVED_TYPES.filter((t) => next.get(t)?.version !== this.#types.get(t)?.version);
    this.#types = next;
    if (changed.length > 0) this.emit('change', changed);
  }

  get(typeUrl: string): TypeSnapshot | undefined {
    return this.#types.get(typeUrl);
  }
}
