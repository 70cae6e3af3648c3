// Through real Envoy 1.40: what an ext_proc filter still gets, and can still change, when a phase is skipped. These
// rows are why both stages keep their request-header phase (docs/envoy.md "Messages per request").
//   * request_header_mode SKIP + request_body_mode BUFFERED: Envoy passes the headers on at once (decodeHeaders
//     returns Continue), so the router picks a route before the body arrives, and an upstream filter's next filter
//     (the codec) sends the client's headers — authorization included — to the provider. Mutations in the body
//     response no longer reach them. Attributes do arrive with the body message.
//   * `request.headers` as an attribute is the text "CelMap value": one header needs its own expression.
//   * A request without a body never reaches a filter whose only request phase is the body.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND_ATTRIBUTE, EXT_PROC_FILTER_NAME, ROUTE_HEADER, STAGE_METADATA_KEY } from '../../extproc/contract.js';
import { CATCH_ALL_ROUTE } from '../filters.js';
import { headerMutation } from '../testing/answers.js';
import type { JsonObject, JsonValue } from '../../util/json.js';
import { byStage, continueThrough, passThrough, startBench, type Bench } from './harness.js';
import { kinds } from './expect.js';

const T = { timeout: 30_000 };

type Stage = 'router' | 'upstream';
type Config = { [k: string]: JsonValue };

/** Every ext_proc filter config in the bootstrap, with the stage its gRPC initial metadata names. */
function extProcConfigs(
  node: JsonValue,
  found: Array<{ stage: Stage; config: Config }> = [],
): Array<{ stage: Stage; config: Config }> {
  if (node === null || typeof node !== 'object') return found;
  if (Array.isArray(node)) {
    for (const item of node) extProcConfigs(item, found);
    return found;
  }
  const type = node['@type'];
  if (typeof type === 'string' && type.endsWith('ext_proc.v3.ExternalProcessor')) {
    const metadata = JSON.stringify(node.grpc_service ?? {});
    found.push({
      stage: metadata.includes(STAGE_METADATA_KEY) && metadata.includes('"upstream"') ? 'upstream' : 'router',
      config: node,
    });
  }
  for (const value of Object.values(node)) extProcConfigs(value, found);
  return found;
}

function skipRequestHeaders(stage: Stage, attributes: readonly string[]): (bootstrap: JsonObject) => void {
  return (bootstrap) => {
    for (const found of extProcConfigs(bootstrap)) {
      if (found.stage !== stage) continue;
      (found.config.processing_mode as Config).request_header_mode = 'SKIP';
      found.config.request_attributes = [...attributes];
    }
  };
}

const ATTRIBUTES = [
  'request.path',
  'request.method',
  "request.headers['authorization']",
  'request.id',
  'request.headers',
];
const CLIENT_HEADERS = { authorization: 'Bearer vk-1', 'x-client': 'c' };

let upstreamSkipped: Bench;
let routerSkipped: Bench;
before(async () => {
  const routes = { m: { backends: [{ backend: 'a' }] } };
  upstreamSkipped = await startBench({
    backends: { a: {} },
    routes,
    vias: ['envoy'],
    bootstrap: skipRequestHeaders('upstream', [BACKEND_ATTRIBUTE, ...ATTRIBUTES]),
  });
  routerSkipped = await startBench({
    backends: { a: {} },
    routes,
    vias: ['envoy'],
    bootstrap: skipRequestHeaders('router', ATTRIBUTES),
  });
});
after(async () => {
  await upstreamSkipped?.close();
  await routerSkipped?.close();
});

test(
  "upstream stage without its request-header phase: the attributes come with the body, but the provider already has the client's headers",
  T,
  async () => {
    const o = await upstreamSkipped.run('envoy', {
      routeHeader: null,
      request: { headers: CLIENT_HEADERS },
      script: byStage({
        router: async (s) => {
          await continueThrough(s, ['request_headers']);
          await s.expect('request_body');
          s.send({
            request_body: {
              response: { header_mutation: headerMutation({ [ROUTE_HEADER]: 'llm.m' }), clear_route_cache: true },
            },
          });
          await passThrough(s);
        },
        upstream: async (s) => {
          await s.expect('request_body');
          s.send({
            request_body: {
              response: {
                header_mutation: headerMutation({ ':path': '/changed', 'x-added': '1' }, ['x-client', 'authorization']),
                body_mutation: { body: Buffer.from('{"new":1}') },
              },
            },
          });
          await passThrough(s);
        },
      }),
    });
    assert.equal(o.client.status, 200);
    assert.deepEqual(kinds(o)[1], 'upstream: request_body* response_headers');
    const attributes = o.extproc[1]?.messages[0]?.attributes?.[EXT_PROC_FILTER_NAME];
    assert.deepEqual(
      [
        attributes?.[BACKEND_ATTRIBUTE],
        attributes?.['request.path'],
        attributes?.['request.method'],
        attributes?.["request.headers['authorization']"],
        attributes?.['request.headers'],
      ],
      ['a', '/v1/chat/completions', 'POST', 'Bearer vk-1', 'CelMap value'],
    );
    assert.equal(typeof attributes?.['request.id'], 'string');
    // Nothing of the body answer reached the provider: path, headers and body are the client's, the key included.
    const got = o.upstream[0];
    assert.deepEqual(
      [got?.url, got?.headers.authorization, got?.headers['x-client'], got?.headers['x-added'], got?.body],
      ['/v1/chat/completions', 'Bearer vk-1', 'c', undefined, '{"model":"m","messages":[]}'],
    );
  },
);

test(
  'router stage without its request-header phase: the route is chosen before the body, so the catch-all answers and the body never reaches the processor',
  T,
  async () => {
    const o = await routerSkipped.run('envoy', {
      routeHeader: null,
      request: { headers: CLIENT_HEADERS },
      script: passThrough,
    });
    assert.deepEqual([o.client.status, o.client.body], [404, CATCH_ALL_ROUTE.direct_response.body.inline_string]);
    assert.deepEqual(kinds(o), ['router: response_headers response_body*']);
  },
);
