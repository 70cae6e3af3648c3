// Unreadable upstream answers are the same 502 for every provider. Deep JSON never reaches a recursive walk: for every provider, with budgets on, a request nested past the limit is
// a 400 naming the field at the router stage, and the upstream stage refuses it instead of overflowing the stack.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Budgets } from '../budget/budgets.js';
import { budgetsConfigSchema } from '../budget/config.js';
import { loadEncoders } from '../tokens/counter.js';
import { PromptEstimator } from '../tokens/estimator.js';
import { snapshotFromYaml } from '../testing/config.js';
import { UnifiedError } from '../unified/errors.js';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import type { Accounting } from './budget-gate.js';
import { RouterStage } from './router-stage.js';
import { UpstreamStage } from './upstream-stage.js';
import {
  CHAT_HEADERS,
  common,
  immediate,
  requestBody,
  requestHeaders,
  responseBody,
  responseHeaders,
  setHeaders,
} from './testing.js';
import { BACKEND_HEADER } from './contract.js';
import { metrics } from '../telemetry/metrics.js';
import { providerFor } from '../providers/registry.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';

const PROVIDERS = `
backends:
  - { name: openai, provider: openai }
  - { name: compat, provider: openai-compatible, baseUrl: "http://127.0.0.1:1/v1" }
  - { name: azure, provider: azure-openai, baseUrl: "https://x.openai.azure.com", deployment: d }
  - { name: anthropic, provider: anthropic }
  - { name: gemini, provider: gemini }
  - { name: vertex, provider: vertex, project: p, location: us-central1, accessTokenEnv: VERTEX_TOKEN }
  - { name: bedrock, provider: bedrock, region: us-east-1 }
  - { name: cohere, provider: cohere }
routes:
  - { model: m-openai, backends: [{ backend: openai }] }
  - { model: m-compat, backends: [{ backend: compat }] }
  - { model: m-azure, backends: [{ backend: azure }] }
  - { model: m-anthropic, backends: [{ backend: anthropic }] }
  - { model: m-gemini, backends: [{ backend: gemini }] }
  - { model: m-vertex, backends: [{ backend: vertex }] }
  - { model: m-bedrock, backends: [{ backend: bedrock }] }
  - { model: m-cohere, backends: [{ backend: cohere }] }
`;
const snapshot = snapshotFromYaml(PROVIDERS, { VERTEX_TOKEN: 't', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' });
const BACKENDS = ['openai', 'compat', 'azure', 'anthropic', 'gemini', 'vertex', 'bedrock', 'cohere'];

function accounting(): Accounting {
  const config = budgetsConfigSchema.parse({
    organisations: [
      {
        name: 'o',
        teams: [
          {
            name: 't',
            keys: [
              {
                name: 'k',
                sha256: createHash('sha256').update('vk').digest('hex'),
                limits: [{ window: 'day', totalTokens: 1e9 }],
              },
            ],
          },
        ],
      },
    ],
  });
  return { budgets: Budgets.create(config, {}, { reapIntervalMs: 0 }), config, estimator: new PromptEstimator() };
}

/** A schema nested `levels` deep, as text (JSON.stringify itself overflows on such values). */
const deepSchema = (levels: number) =>
  '{"type":"object","properties":{"a":'.repeat(levels) + '{"type":"string"}' + '}}'.repeat(levels);
const toolBody = (model: string, levels: number) =>
  `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(levels)}}}]}`;

before(() => loadEncoders());

test('every provider, budgets on: 3,000 levels in a tool schema is a 400 naming the field', async () => {
  for (const backend of BACKENDS) {
    const stage = new RouterStage(snapshot, accounting());
    await stage.handle(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' }));
    const reply = immediate(await stage.handle(requestBody(toolBody(`m-${backend}`, 3000))));
    assert.equal(reply?.status, 400, backend);
    assert.equal((reply?.body as { error: { param: string } }).error.param, 'tools[0].function.parameters', backend);
  }
});

test('every provider: the upstream stage refuses a body past the limit (400) and translates one within it', () => {
  // Within the limit: the deepest schema a request may carry (5 levels of body above the schema).
  const levels = Math.floor((MAX_JSON_DEPTH - 5) / 2);
  for (const backend of BACKENDS) {
    const deep = new UpstreamStage(snapshot);
    deep.handle(requestHeaders({ ...CHAT_HEADERS }, false, backend));
    assert.throws(
      () => deep.handle(requestBody(toolBody(`m-${backend}`, 3000))),
      (err: unknown) => err instanceof UnifiedError && err.status === 400,
      backend,
    );
    const ok = new UpstreamStage(snapshot);
    ok.handle(requestHeaders({ ...CHAT_HEADERS }, false, backend));
    const response = ok.handle(requestBody(toolBody(`m-${backend}`, levels)));
    assert.ok((common(response)?.body_mutation?.body as Buffer | undefined)?.length, backend);
  }
});

async function invalidCount(backend: string, reason: string): Promise<number> {
  return (
    (await metrics.upstreamInvalid.get()).values.find((v) => v.labels.backend === backend && v.labels.reason === reason)
      ?.value ?? 0
  );
}

test('every provider: a 2xx body that is not JSON, too deep, or compressed is a 502 upstream_invalid_response', async () => {
  const cases: [string, Record<string, string>, string][] = [
    ['invalid_json', {}, '{"id":"x","choices":[{"message":'],
    ['compressed', { 'content-encoding': 'gzip' }, '\x1f\x8b\x08\x00garbage'],
    ['too_deep', {}, '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)],
  ];
  for (const backend of BACKENDS) {
    for (const [reason, headers, body] of cases) {
      const before = await invalidCount(backend, reason);
      const stage = new RouterStage(snapshot);
      await stage.handle(requestHeaders({ ...CHAT_HEADERS }));
      await stage.handle(requestBody(`{"model":"m-${backend}","messages":[{"role":"user","content":"hi"}]}`));
      await stage.handle(
        responseHeaders({
          ':status': '200',
          'content-type': 'application/json',
          [BACKEND_HEADER]: backend,
          ...headers,
        }),
      );
      const response = stage.handle(responseBody(body, true)) as ProcessingResponse;
      const set = setHeaders(response);
      assert.equal(set[':status'], '502', `${backend} ${reason}`);
      const error = JSON.parse(Buffer.from(common(response)?.body_mutation?.body as Buffer).toString()) as {
        error: { code: string; type: string };
      };
      assert.deepEqual(
        [error.error.code, error.error.type],
        ['upstream_invalid_response', 'server_error'],
        `${backend} ${reason}`,
      );
      assert.ok(common(response)?.header_mutation?.remove_headers?.includes('content-encoding'));
      const after = await invalidCount(backend, reason);
      assert.equal(after, before + 1, `${backend} ${reason} counted`);
    }
  }
});

test('stream translators survive an event nested 5,000 levels deep (parseJson refuses it) instead of overflowing', () => {
  const args = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
  const events: [string, string][] = [
    [
      'gemini',
      `data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":${args}}}]},"index":0}]}\r\n\r\n`,
    ],
    [
      'anthropic',
      `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":${args}}}\n\n`,
    ],
    [
      'cohere',
      `event: tool-call-start\ndata: {"type":"tool-call-start","index":0,"delta":{"message":{"tool_calls":{"id":"t","type":"function","function":{"name":"f","arguments":"{}"},"x":${args}}}}}\n\n`,
    ],
    [
      'openai',
      `data: {"id":"c","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":{"x":${args}}}\n\n`,
    ],
  ];
  for (const [backend, event] of events) {
    const provider = providerFor(snapshot.topology.backends.get(backend)!.provider);
    const context = {
      request: { model: `m-${backend}`, messages: [{ role: 'user' as const, content: 'hi' }], stream: true },
      clientWantsUsage: false,
      requestId: 'r',
      created: 1,
    };
    const translator = provider.createStreamTranslator(context);
    assert.doesNotThrow(() => {
      translator.push(Buffer.from(event));
      translator.end();
    }, backend);
  }
});
