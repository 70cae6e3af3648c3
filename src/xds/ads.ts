// The Aggregated Discovery Service: state-of-the-world (StreamAggregatedResources, what @grpc/grpc-js-xds speaks)
// and incremental (DeltaAggregatedResources, what Envoy prefers) over one gRPC service, for CDS and EDS.
// Rules followed (ENVOY-NOTES §8): per-type versions and nonces; an ACK echoes the last nonce; a NACK (a request
// with error_detail) is logged and counted and the last good state stays; stale nonces are not answered in SotW;
// subscription changes are honoured even on a stale nonce in delta; CDS goes out before EDS, and EDS is sent
// again after a CDS change (a cluster warms only when its assignment arrives).
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { DiscoveryResponse } from '../generated/envoy/service/discovery/v3/DiscoveryResponse.js';
import type { DeltaDiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.js';
import type { DeltaDiscoveryResponse } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryResponse.js';
import { loadServiceProtos } from '../protos/load.js';
import { log } from '../telemetry/log.js';
import { metrics } from '../telemetry/metrics.js';
import { CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL } from './resources.js';
import { SERVED_TYPES, type SnapshotStore } from './snapshot.js';

type SotwCall = grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>;
type DeltaCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, DeltaDiscoveryResponse>;

const isServed = (typeUrl: string): boolean => (SERVED_TYPES as readonly string[]).includes(typeUrl);
/** Make before break: CDS before EDS before LDS whenever they go out together. */
const ORDER = [CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL];

function onNack(protocol: string, typeUrl: string, nonce: string, message: string | undefined): void {
  metrics.xdsNacks.inc({ type: typeUrl.slice(typeUrl.lastIndexOf('.') + 1) });
  log.warn('xDS update rejected by a client (NACK); it keeps the last good state', {
    protocol,
    typeUrl,
    nonce,
    error: message,
  });
}

/**
 * Counts the stream in llm_extproc_xds_streams and runs `stop` once when it ends, however it ends ('end',
 * 'cancelled' and 'error' can all fire for one stream); a client's half-close is answered with OK.
 */
function untilStreamEnds(call: SotwCall | DeltaCall, protocol: 'sotw' | 'delta', stop: () => void): void {
  metrics.xdsStreams.inc({ protocol });
  let ended = false;
  const once = () => {
    if (ended) return;
    ended = true;
    metrics.xdsStreams.dec({ protocol });
    stop();
  };
  call.on('end', () => {
    once();
    call.end();
  });
  call.on('cancelled', once);
  call.on('error', once);
}

/** One state-of-the-world stream. */
function serveSotw(call: SotwCall, store: SnapshotStore): void {
  interface TypeState {
    names: readonly string[];
    wildcard: boolean;
    nonce: string | undefined;
    sentVersion: string | undefined;
  }
  const types = new Map<string, TypeState>();

  const send = (typeUrl: string, force = false) => {
    const state = types.get(typeUrl);
    const snapshot = store.get(typeUrl);
    if (!state || !snapshot) return;
    if (!force && state.sentVersion === snapshot.version) return;
    const resources = state.wildcard
      ? [...snapshot.resources.values()]
      : state.names.flatMap((n) => {
          const r = snapshot.resources.get(n);
          return r ? [r] : [];
        });
    state.nonce = randomUUID();
    state.sentVersion = snapshot.version;
    call.write({
      version_info: snapshot.version,
      type_url: typeUrl,
      nonce: state.nonce,
      resources: resources.map((r) => r.resource),
    });
    metrics.xdsPushes.inc({ protocol: 'sotw', type: typeUrl.slice(typeUrl.lastIndexOf('.') + 1) });
  };

  const onChange = (changed: readonly string[]) => {
    for (const typeUrl of ORDER) {
      // After a CDS change Envoy must get EDS again even when assignments did not change.
      if (changed.includes(typeUrl) || (typeUrl === ENDPOINT_TYPE_URL && changed.includes(CLUSTER_TYPE_URL)))
        send(typeUrl, typeUrl === ENDPOINT_TYPE_URL);
    }
  };
  store.on('change', onChange);

  call.on('data', (request: DiscoveryRequest__Output) => {
    const typeUrl = request.type_url ?? '';
    const nonce = request.response_nonce ?? '';
    let state = types.get(typeUrl);
    // Stale: an answer to an older response of this stream. The first request of a type on a stream is never
    // stale, even when it carries a nonce (a client reconnecting echoes the last nonce of its previous stream).
    if (nonce && state && nonce !== state.nonce) return;
    const first = !state;
    if (request.error_detail) onNack('sotw', typeUrl, nonce, request.error_detail.message);
    const names = request.resource_names ?? [];
    // CDS and LDS are wildcard types: an empty name list means all of them.
    const wildcard =
      typeUrl === CLUSTER_TYPE_URL || typeUrl === LISTENER_TYPE_URL
        ? names.length === 0 || names.includes('*')
        : names.includes('*');
    if (!state) {
      state = { names, wildcard, nonce: undefined, sentVersion: undefined };
      types.set(typeUrl, state);
    }
    const subscriptionChanged = state.wildcard !== wildcard || state.names.join('\0') !== names.join('\0');
    state.names = names;
    state.wildcard = wildcard;
    if (!isServed(typeUrl)) {
      // Types we do not serve get an empty answer so the client does not wait for them.
      if (!nonce || first)
        call.write({ version_info: '0', type_url: typeUrl, nonce: (state.nonce = randomUUID()), resources: [] });
      return;
    }
    // First request, a new subscription, or a reconnecting client: answer; a plain ACK/NACK needs nothing.
    if (!nonce || first || subscriptionChanged) send(typeUrl, true);
  });
  untilStreamEnds(call, 'sotw', () => store.off('change', onChange));
}

/** One incremental (delta) stream. */
function serveDelta(call: DeltaCall, store: SnapshotStore): void {
  interface TypeState {
    wildcard: boolean;
    subscribed: Set<string>;
    /** What the client has, by name: version (from us, or from initial_resource_versions). */
    known: Map<string, string>;
    nonce: string | undefined;
    started: boolean;
  }
  const types = new Map<string, TypeState>();

  /** `resend`: every wanted resource, even those the client has (removals are still computed from what it has). */
  const send = (typeUrl: string, always = false, resend = false) => {
    const state = types.get(typeUrl);
    const snapshot = store.get(typeUrl);
    if (!state) return;
    const wanted = (name: string) => state.wildcard || state.subscribed.has(name);
    const resources = [...(snapshot?.resources.values() ?? [])].filter(
      (r) => wanted(r.name) && (resend || state.known.get(r.name) !== r.version),
    );
    const removed = [...state.known.keys()].filter((name) => wanted(name) && !snapshot?.resources.has(name));
    if (resources.length === 0 && removed.length === 0 && !always) return;
    for (const r of resources) state.known.set(r.name, r.version);
    for (const name of removed) state.known.delete(name);
    state.nonce = randomUUID();
    call.write({
      system_version_info: snapshot?.version ?? '',
      type_url: typeUrl,
      nonce: state.nonce,
      resources: resources.map((r) => ({ name: r.name, version: r.version, resource: r.resource })),
      removed_resources: removed,
    });
    metrics.xdsPushes.inc({ protocol: 'delta', type: typeUrl.slice(typeUrl.lastIndexOf('.') + 1) });
  };

  const onChange = (changed: readonly string[]) => {
    for (const typeUrl of ORDER) {
      if (!changed.includes(typeUrl) && !(typeUrl === ENDPOINT_TYPE_URL && changed.includes(CLUSTER_TYPE_URL)))
        continue;
      // A changed cluster re-warms and waits for its assignment: EDS goes out again in full. (Clearing what the
      // client has instead would also lose the assignments deleted with the cluster: no removed_resources.)
      send(typeUrl, false, typeUrl === ENDPOINT_TYPE_URL && changed.includes(CLUSTER_TYPE_URL));
    }
  };
  store.on('change', onChange);

  call.on('data', (request: DeltaDiscoveryRequest__Output) => {
    const typeUrl = request.type_url ?? '';
    let state = types.get(typeUrl);
    const first = !state;
    if (!state) {
      state = { wildcard: false, subscribed: new Set(), known: new Map(), nonce: undefined, started: false };
      types.set(typeUrl, state);
      for (const [name, version] of Object.entries(request.initial_resource_versions ?? {}))
        state.known.set(name, version);
    }
    if (request.error_detail) onNack('delta', typeUrl, request.response_nonce ?? '', request.error_detail.message);
    const subscribe = request.resource_names_subscribe ?? [];
    const unsubscribe = request.resource_names_unsubscribe ?? [];
    // An empty first subscription to CDS or LDS is a wildcard one (the legacy form Envoy still sends).
    if (first && (typeUrl === CLUSTER_TYPE_URL || typeUrl === LISTENER_TYPE_URL) && subscribe.length === 0)
      state.wildcard = true;
    for (const name of subscribe) {
      if (name === '*') state.wildcard = true;
      else state.subscribed.add(name);
    }
    for (const name of unsubscribe) {
      if (name === '*') {
        state.wildcard = false;
        // The client drops what it held only through the wildcard: a later subscription must send it again.
        for (const known of [...state.known.keys()])
          if (!state.subscribed.has(known) && !subscribe.includes(known)) state.known.delete(known);
      } else {
        state.subscribed.delete(name);
        state.known.delete(name);
      }
    }
    if (!isServed(typeUrl)) {
      if (first)
        call.write({
          system_version_info: '0',
          type_url: typeUrl,
          nonce: (state.nonce = randomUUID()),
          resources: [],
          removed_resources: [],
        });
      return;
    }
    // The first answer for a type goes out even when empty: the client waits for it to finish initialising.
    const always = !state.started;
    state.started = true;
    if (subscribe.length > 0 || unsubscribe.length > 0 || always) send(typeUrl, always);
  });
  untilStreamEnds(call, 'delta', () => store.off('change', onChange));
}

export function aggregatedDiscoveryService(store: SnapshotStore): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
} {
  const service = loadServiceProtos().envoy.service.discovery.v3.AggregatedDiscoveryService.service;
  return {
    definition: service,
    implementation: {
      StreamAggregatedResources: (call: SotwCall) => serveSotw(call, store),
      DeltaAggregatedResources: (call: DeltaCall) => serveDelta(call, store),
    },
  };
}

/**
 * The same streams as the Endpoint Discovery Service: an EDS cluster whose eds_config is an api_config_source (not
 * `ads: {}`) calls envoy.service.endpoint.v3.EndpointDiscoveryService — a mesh gateway, whose ADS is istiod
 * (`istio-manifests --xds`, docs/envoy.md "Istio"). Same messages as ADS, so ADS's method definitions under EDS paths.
 */
export function endpointDiscoveryService(store: SnapshotStore): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
} {
  const ads = loadServiceProtos().envoy.service.discovery.v3.AggregatedDiscoveryService.service;
  const as = <M extends { path: string }>(method: M, name: string): M => ({
    ...method,
    path: `/envoy.service.endpoint.v3.EndpointDiscoveryService/${name}`,
    originalName: name,
  });
  return {
    definition: {
      StreamEndpoints: as(ads.StreamAggregatedResources, 'StreamEndpoints'),
      DeltaEndpoints: as(ads.DeltaAggregatedResources, 'DeltaEndpoints'),
    },
    implementation: {
      StreamEndpoints: (call: SotwCall) => serveSotw(call, store),
      DeltaEndpoints: (call: DeltaCall) => serveDelta(call, store),
    },
  };
}
