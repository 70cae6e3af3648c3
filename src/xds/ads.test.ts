// ADS protocol rules with a raw gRPC client (grpc-js from the loaded service definition; resources decoded with
// protobufjs): state of the world (versions, nonces, ACK, NACK, stale nonces, make-before-break ordering, EDS by
// name) and delta (subscribe/unsubscribe incl. `*`, initial_resource_versions, removals, stale nonces, first
// answers). The snapshot is driven directly, so each rule is seen in isolation from Envoy's own behaviour.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { JsonObject } from '../util/json.js';
import { sharedRegistry } from '../envoyconfig/registry.js';
import type { DiscoveryRequest } from '../generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { DiscoveryResponse__Output } from '../generated/envoy/service/discovery/v3/DiscoveryResponse.js';
import type { DeltaDiscoveryRequest } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryRequest.js';
import type { DeltaDiscoveryResponse__Output } from '../generated/envoy/service/discovery/v3/DeltaDiscoveryResponse.js';
import type { AggregatedDiscoveryServiceClient } from '../generated/envoy/service/discovery/v3/AggregatedDiscoveryService.js';
import { loadServiceProtos } from '../protos/load.js';
import { metrics } from '../telemetry/metrics.js';
import { aggregatedDiscoveryService, endpointDiscoveryService } from './ads.js';
import { CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL } from './resources.js';
import { SnapshotStore } from './snapshot.js';

const ROUTE_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const QUIET_MS = 150;

const cluster = (name: string, timeout = '1s'): JsonObject => ({
  name,
  type: 'EDS',
  connect_timeout: timeout,
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
});
const assignment = (name: string, weight = 1): JsonObject => ({
  cluster_name: name,
  endpoints: [
    {
      locality: { sub_zone: 'a' },
      load_balancing_weight: weight,
      lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } }],
    },
  ],
});

interface State {
  clusters: Record<string, string>; // name → connect_timeout
  assignments: Record<string, number>; // name → locality weight
}
const publish = (store: SnapshotStore, state: State) =>
  store.update({
    clusters: new Map(Object.entries(state.clusters).map(([n, t]) => [n, cluster(n, t)])),
    loadAssignments: new Map(Object.entries(state.assignments).map(([n, w]) => [n, assignment(n, w)])),
    listeners: new Map(),
  });

const MESSAGE = {
  [CLUSTER_TYPE_URL]: 'envoy.config.cluster.v3.Cluster',
  [ENDPOINT_TYPE_URL]: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

/** The resource's name, decoded from the Any with protobufjs (Cluster.name or ClusterLoadAssignment.cluster_name). */
function decodedName(any: { type_url?: string; value?: Buffer } | undefined): string {
  assert.ok(any?.type_url && any.value, 'an Any with a type and a value');
  const typeName = MESSAGE[any.type_url as keyof typeof MESSAGE];
  assert.ok(typeName, `unexpected type ${any.type_url}`);
  const type = sharedRegistry().findType(typeName);
  assert.ok(type);
  const message = type.toObject(type.decode(any.value)) as { name?: string; cluster_name?: string };
  return message.name ?? message.cluster_name ?? '';
}
function decodedWeight(any: { type_url?: string; value?: Buffer } | undefined): number {
  const type = sharedRegistry().findType(MESSAGE[ENDPOINT_TYPE_URL]);
  assert.ok(type && any?.value);
  const message = type.toObject(type.decode(any.value)) as {
    endpoints?: { load_balancing_weight?: { value?: number } }[];
  };
  return message.endpoints?.[0]?.load_balancing_weight?.value ?? 0;
}

/** Responses of one stream, in order: `next` takes the next one (or fails after a bound), `quiet` asserts none. */
class Responses<T> {
  readonly #queue: T[] = [];
  #waiter: (() => void) | undefined;
  constructor(stream: NodeJS.EventEmitter) {
    stream.on('data', (message: T) => {
      this.#queue.push(message);
      this.#waiter?.();
    });
    stream.on('error', () => undefined); // cancelled at the end of a test
  }
  async next(what: string, boundMs = 2000): Promise<T> {
    const deadline = Date.now() + boundMs;
    while (this.#queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`no response: ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#queue.shift() as T;
  }
  async quiet(what: string, ms = QUIET_MS): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.equal(
      this.#queue.length,
      0,
      `expected no response: ${what}; got ${JSON.stringify(this.#queue.map(summary))}`,
    );
  }
}
const summary = (r: unknown) => {
  const { type_url, nonce, removed_resources } = r as {
    type_url?: string;
    nonce?: string;
    removed_resources?: string[];
  };
  return { type_url, nonce, removed_resources };
};

let server: grpc.Server;
let store: SnapshotStore;
let client: AggregatedDiscoveryServiceClient;
const open: grpc.ClientDuplexStream<unknown, unknown>[] = [];

before(async () => {
  store = new SnapshotStore();
  server = new grpc.Server();
  const ads = aggregatedDiscoveryService(store);
  server.addService(ads.definition, ads.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const Ads = loadServiceProtos().envoy.service.discovery.v3.AggregatedDiscoveryService;
  client = new Ads(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});
after(() => {
  for (const call of open) call.cancel();
  client.close();
  server.forceShutdown();
});
beforeEach(() => {
  for (const call of open.splice(0)) call.cancel();
  publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 1, c2: 1 } });
});

function sotw() {
  const call = client.StreamAggregatedResources();
  open.push(call as unknown as grpc.ClientDuplexStream<unknown, unknown>);
  const responses = new Responses<DiscoveryResponse__Output>(call);
  return { send: (request: DiscoveryRequest) => call.write({ node: { id: 'ads-test' }, ...request }), responses };
}
function delta() {
  const call = client.DeltaAggregatedResources();
  open.push(call as unknown as grpc.ClientDuplexStream<unknown, unknown>);
  const responses = new Responses<DeltaDiscoveryResponse__Output>(call);
  return { send: (request: DeltaDiscoveryRequest) => call.write({ node: { id: 'ads-test' }, ...request }), responses };
}
const names = (r: DiscoveryResponse__Output) => (r.resources ?? []).map(decodedName).sort();
const deltaNames = (r: DeltaDiscoveryResponse__Output) =>
  (r.resources ?? [])
    .map((res) => {
      assert.equal(decodedName(res.resource ?? undefined), res.name, 'Resource.name is the decoded name');
      return res.name ?? '';
    })
    .sort();
const nacks = async (type: string) =>
  (await metrics.xdsNacks.get()).values.find((v) => v.labels.type === type)?.value ?? 0;

describe('state of the world', () => {
  test('the first request is answered with a version and a nonce; CDS is wildcard', async () => {
    const { send, responses } = sotw();
    send({ type_url: CLUSTER_TYPE_URL });
    const first = await responses.next('CDS');
    assert.equal(first.type_url, CLUSTER_TYPE_URL);
    assert.ok(first.version_info && first.nonce);
    assert.deepEqual(names(first), ['c1', 'c2']);
  });

  test('an ACK (echoed nonce, same names) gets nothing new', async () => {
    const { send, responses } = sotw();
    send({ type_url: CLUSTER_TYPE_URL });
    const first = await responses.next('CDS');
    send({ type_url: CLUSTER_TYPE_URL, version_info: first.version_info ?? '', response_nonce: first.nonce ?? '' });
    await responses.quiet('after an ACK');
  });

  test('a NACK is counted, the bad version is not resent, and the next change goes out', async () => {
    const { send, responses } = sotw();
    send({ type_url: CLUSTER_TYPE_URL });
    const good = await responses.next('CDS');
    send({ type_url: CLUSTER_TYPE_URL, version_info: good.version_info ?? '', response_nonce: good.nonce ?? '' });
    publish(store, { clusters: { c1: '2s', c2: '1s' }, assignments: { c1: 1, c2: 1 } });
    const bad = await responses.next('CDS change');
    assert.notEqual(bad.version_info, good.version_info);
    const before = await nacks('Cluster');
    // A NACK carries the last version the client accepted and the nonce of the rejected response.
    send({
      type_url: CLUSTER_TYPE_URL,
      version_info: good.version_info ?? '',
      response_nonce: bad.nonce ?? '',
      error_detail: { code: 3, message: 'rejected' },
    });
    await responses.quiet('after a NACK (the rejected version is not pushed again)');
    assert.equal(await nacks('Cluster'), before + 1);
    publish(store, { clusters: { c1: '3s', c2: '1s' }, assignments: { c1: 1, c2: 1 } });
    const fixed = await responses.next('the next change after a NACK');
    assert.ok(fixed.version_info !== bad.version_info && fixed.version_info !== good.version_info);
  });

  test('a request with a stale nonce is not answered, even with different names', async () => {
    const { send, responses } = sotw();
    send({ type_url: ENDPOINT_TYPE_URL, resource_names: ['c1'] });
    const first = await responses.next('EDS');
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 5, c2: 1 } });
    const second = await responses.next('EDS change');
    assert.notEqual(second.nonce, first.nonce);
    send({ type_url: ENDPOINT_TYPE_URL, resource_names: ['c1', 'c2'], response_nonce: first.nonce ?? '' });
    await responses.quiet('a stale nonce');
    send({
      type_url: ENDPOINT_TYPE_URL,
      resource_names: ['c1', 'c2'],
      response_nonce: second.nonce ?? '',
      version_info: second.version_info ?? '',
    });
    assert.deepEqual(names(await responses.next('new names on the current nonce')), ['c1', 'c2']);
  });

  test('EDS answers only the names asked for', async () => {
    const { send, responses } = sotw();
    for (const [asked, expected] of [
      [['c2'], ['c2']],
      [['c1', 'missing'], ['c1']],
    ] as const) {
      const { send: s, responses: r } = sotw();
      s({ type_url: ENDPOINT_TYPE_URL, resource_names: [...asked] });
      assert.deepEqual(names(await r.next(`EDS ${asked.join(',')}`)), expected);
    }
    send({ type_url: ENDPOINT_TYPE_URL, resource_names: ['c1'] });
    const first = await responses.next('EDS c1');
    // A change to an assignment nobody on this stream asked for still sends the new version, with only c1.
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 1, c2: 7 } });
    const next = await responses.next('EDS after c2 changed');
    assert.deepEqual(names(next), ['c1']);
    assert.notEqual(next.version_info, first.version_info);
  });

  test('a change sends CDS before EDS, and EDS again after a CDS change even when assignments did not change', async () => {
    const { send, responses } = sotw();
    send({ type_url: CLUSTER_TYPE_URL });
    const cds = await responses.next('CDS');
    send({ type_url: CLUSTER_TYPE_URL, version_info: cds.version_info ?? '', response_nonce: cds.nonce ?? '' });
    send({ type_url: ENDPOINT_TYPE_URL, resource_names: ['c1', 'c2'] });
    const eds = await responses.next('EDS');
    send({
      type_url: ENDPOINT_TYPE_URL,
      resource_names: ['c1', 'c2'],
      version_info: eds.version_info ?? '',
      response_nonce: eds.nonce ?? '',
    });
    await responses.quiet('ACKed');
    // Clusters and assignments change together: CDS first.
    publish(store, { clusters: { c1: '2s', c2: '1s' }, assignments: { c1: 3, c2: 1 } });
    assert.equal((await responses.next('first of a joint change')).type_url, CLUSTER_TYPE_URL);
    const edsAfter = await responses.next('second of a joint change');
    assert.equal(edsAfter.type_url, ENDPOINT_TYPE_URL);
    // Only a cluster changes: EDS is re-sent (same version, new nonce) so the re-warming cluster gets its assignment.
    publish(store, { clusters: { c1: '4s', c2: '1s' }, assignments: { c1: 3, c2: 1 } });
    assert.equal((await responses.next('CDS-only change')).type_url, CLUSTER_TYPE_URL);
    const again = await responses.next('EDS after a CDS-only change');
    assert.equal(again.type_url, ENDPOINT_TYPE_URL);
    assert.equal(again.version_info, edsAfter.version_info);
    assert.deepEqual(names(again), ['c1', 'c2']);
  });

  test('a reconnecting client (first request on a stream carries a nonce from the old stream) is answered', async () => {
    const { send, responses } = sotw();
    send({ type_url: CLUSTER_TYPE_URL, version_info: 'old', response_nonce: 'nonce-from-a-previous-stream' });
    assert.deepEqual(names(await responses.next('CDS on reconnect')), ['c1', 'c2']);
  });

  test('types we do not serve get one empty answer', async () => {
    const { send, responses } = sotw();
    send({ type_url: ROUTE_TYPE_URL, resource_names: ['r'] });
    const answer = await responses.next('RDS');
    assert.equal(answer.type_url, ROUTE_TYPE_URL);
    assert.equal(answer.resources?.length ?? 0, 0);
    send({ type_url: ROUTE_TYPE_URL, resource_names: ['r'], response_nonce: answer.nonce ?? '' });
    await responses.quiet('RDS ACK');
  });
});

describe('delta', () => {
  test('wildcard CDS (legacy empty first request and `*`) sends every cluster with per-resource versions', async () => {
    for (const subscribe of [[], ['*']]) {
      const { send, responses } = delta();
      send({ type_url: CLUSTER_TYPE_URL, resource_names_subscribe: subscribe });
      const first = await responses.next(`CDS ${JSON.stringify(subscribe)}`);
      assert.deepEqual(deltaNames(first), ['c1', 'c2']);
      assert.ok(first.nonce && (first.resources ?? []).every((r) => r.version));
    }
  });

  test('subscribe and unsubscribe by name, and `*` on and off', async () => {
    const { send, responses } = delta();
    const steps: { subscribe?: string[]; unsubscribe?: string[]; expect?: string[] }[] = [
      { subscribe: ['c1'], expect: ['c1'] },
      { subscribe: ['c2'], expect: ['c2'] },
      { unsubscribe: ['c2'] },
      { subscribe: ['c2'], expect: ['c2'] }, // unsubscribed, so the client dropped it: sent again
      { unsubscribe: ['c1', 'c2'] },
      { subscribe: ['*'], expect: ['c1', 'c2'] },
      { unsubscribe: ['*'], subscribe: ['c1'] }, // still has c1
      { subscribe: ['c2'], expect: ['c2'] }, // dropped with the wildcard: sent again
    ];
    let nonce = '';
    for (const [i, step] of steps.entries()) {
      send({
        type_url: ENDPOINT_TYPE_URL,
        resource_names_subscribe: step.subscribe ?? [],
        resource_names_unsubscribe: step.unsubscribe ?? [],
        response_nonce: nonce,
      });
      if (i === 0 || step.expect) {
        const answer = await responses.next(`step ${i}`);
        assert.deepEqual(deltaNames(answer), step.expect ?? [], `step ${i}`);
        nonce = answer.nonce ?? '';
      } else {
        await responses.quiet(`step ${i}`);
      }
    }
    // Only what is subscribed now follows changes.
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 2, c2: 2 } });
    const update = await responses.next('change');
    assert.deepEqual(deltaNames(update), ['c1', 'c2']);
    send({ type_url: ENDPOINT_TYPE_URL, resource_names_unsubscribe: ['c1'], response_nonce: update.nonce ?? '' });
    await responses.quiet('unsubscribe c1');
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 3, c2: 2 } });
    await responses.quiet('c1 changed, not subscribed');
  });

  test('initial_resource_versions on reconnect: nothing resent that the client has, removed resources reported', async () => {
    const first = delta();
    first.send({ type_url: CLUSTER_TYPE_URL });
    const had = await first.responses.next('CDS');
    const versions = Object.fromEntries((had.resources ?? []).map((r) => [r.name ?? '', r.version ?? '']));
    // While away: c2 changed, c1 did not; the client also remembers a cluster that is gone.
    publish(store, { clusters: { c1: '1s', c2: '9s' }, assignments: { c1: 1, c2: 1 } });
    const second = delta();
    second.send({ type_url: CLUSTER_TYPE_URL, initial_resource_versions: { ...versions, gone: 'v0' } });
    const answer = await second.responses.next('CDS on reconnect');
    assert.deepEqual(deltaNames(answer), ['c2']);
    assert.deepEqual(answer.removed_resources, ['gone']);

    const third = delta();
    const current = Object.fromEntries(
      [...(store.get(CLUSTER_TYPE_URL)?.resources.values() ?? [])].map((r) => [r.name, r.version]),
    );
    third.send({ type_url: CLUSTER_TYPE_URL, initial_resource_versions: current });
    const empty = await third.responses.next('the first answer goes out even when the client has everything');
    assert.equal(empty.resources?.length ?? 0, 0);
    assert.equal(empty.removed_resources?.length ?? 0, 0);
  });

  test('a deleted resource is reported in removed_resources', async () => {
    const { send, responses } = delta();
    send({ type_url: CLUSTER_TYPE_URL });
    const first = await responses.next('CDS');
    send({ type_url: CLUSTER_TYPE_URL, response_nonce: first.nonce ?? '' });
    const eds = delta();
    eds.send({ type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['c1', 'c2'] });
    await eds.responses.next('EDS');
    publish(store, { clusters: { c1: '1s' }, assignments: { c1: 1 } });
    const cds = await responses.next('CDS deletion');
    assert.deepEqual(cds.removed_resources, ['c2']);
    assert.equal(cds.resources?.length ?? 0, 0);
    // EDS after a CDS change: the subscribed assignment again, and the gone one removed.
    const edsAfter = await eds.responses.next('EDS deletion');
    assert.deepEqual(deltaNames(edsAfter), ['c1']);
    assert.deepEqual(edsAfter.removed_resources, ['c2']);
  });

  test('subscription changes are honoured on a stale nonce', async () => {
    const { send, responses } = delta();
    send({ type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['c1'] });
    const first = await responses.next('EDS c1');
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 4, c2: 1 } });
    const second = await responses.next('EDS change');
    assert.equal(decodedWeight(second.resources?.[0]?.resource ?? undefined), 4);
    send({ type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['c2'], response_nonce: first.nonce ?? '' });
    assert.deepEqual(deltaNames(await responses.next('subscribe on a stale nonce')), ['c2']);
  });

  test('the first answer per type goes out even when empty', async () => {
    for (const [typeUrl, subscribe] of [
      [ENDPOINT_TYPE_URL, ['missing']],
      [LISTENER_TYPE_URL, []],
      [ROUTE_TYPE_URL, ['r']],
    ] as const) {
      const { send, responses } = delta();
      send({ type_url: typeUrl, resource_names_subscribe: [...subscribe] });
      const answer = await responses.next(`first ${typeUrl}`);
      assert.equal(answer.type_url, typeUrl);
      assert.equal(answer.resources?.length ?? 0, 0);
      send({ type_url: typeUrl, response_nonce: answer.nonce ?? '' });
      await responses.quiet(`ACK of ${typeUrl}`, 50);
    }
  });

  test('a NACK is counted and the rejected versions are not resent; the next change goes out', async () => {
    const { send, responses } = delta();
    send({ type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['c1'] });
    const first = await responses.next('EDS');
    send({ type_url: ENDPOINT_TYPE_URL, response_nonce: first.nonce ?? '' });
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 6, c2: 1 } });
    const bad = await responses.next('EDS change');
    const before = await nacks('ClusterLoadAssignment');
    send({
      type_url: ENDPOINT_TYPE_URL,
      response_nonce: bad.nonce ?? '',
      error_detail: { code: 3, message: 'rejected' },
    });
    await responses.quiet('after a NACK');
    assert.equal(await nacks('ClusterLoadAssignment'), before + 1);
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 7, c2: 1 } });
    assert.equal(decodedWeight((await responses.next('next change')).resources?.[0]?.resource ?? undefined), 7);
  });
});

describe('EndpointDiscoveryService (EDS alone: an Istio gateway, whose ADS is istiod)', () => {
  test('DeltaEndpoints and StreamEndpoints serve the same assignments by name; a change goes out', async (t) => {
    const edsServer = new grpc.Server();
    const eds = endpointDiscoveryService(store);
    edsServer.addService(eds.definition, eds.implementation);
    const port = await new Promise<number>((resolve, reject) =>
      edsServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const Eds = grpc.makeGenericClientConstructor(eds.definition, 'EndpointDiscoveryService');
    const edsClient = new Eds(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
      DeltaEndpoints(): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>;
      StreamEndpoints(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;
      close(): void;
    };
    t.after(() => {
      edsClient.close();
      edsServer.forceShutdown();
    });
    const deltaCall = edsClient.DeltaEndpoints();
    open.push(deltaCall as unknown as grpc.ClientDuplexStream<unknown, unknown>);
    const deltaResponses = new Responses<DeltaDiscoveryResponse__Output>(deltaCall);
    deltaCall.write({ node: { id: 'eds-test' }, type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['c1'] });
    const first = await deltaResponses.next('delta EDS');
    assert.equal(first.type_url, ENDPOINT_TYPE_URL);
    assert.deepEqual(deltaNames(first), ['c1']);
    deltaCall.write({ type_url: ENDPOINT_TYPE_URL, response_nonce: first.nonce ?? '' });
    publish(store, { clusters: { c1: '1s', c2: '1s' }, assignments: { c1: 7, c2: 1 } });
    const changed = await deltaResponses.next('delta EDS after a weight change');
    assert.equal(decodedWeight(changed.resources?.[0]?.resource ?? undefined), 7);

    const sotwCall = edsClient.StreamEndpoints();
    open.push(sotwCall as unknown as grpc.ClientDuplexStream<unknown, unknown>);
    const sotwResponses = new Responses<DiscoveryResponse__Output>(sotwCall);
    sotwCall.write({ node: { id: 'eds-test' }, type_url: ENDPOINT_TYPE_URL, resource_names: ['c2'] });
    assert.deepEqual(names(await sotwResponses.next('SotW EDS')), ['c2']);
  });
});
