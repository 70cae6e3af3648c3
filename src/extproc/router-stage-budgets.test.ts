import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Budgets } from '../budget/budgets.js';
import { budgetsConfigSchema } from '../budget/config.js';
import { loadEncoders } from '../tokens/counter.js';
import { PromptEstimator } from '../tokens/estimator.js';
import { snapshotFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { BACKEND_HEADER } from './contract.js';
import type { Accounting } from './budget-gate.js';
import { RouterStage } from './router-stage.js';
import {
  CHAT_HEADERS,
  immediate,
  requestBody,
  requestHeaders,
  responseBody,
  responseHeaders,
  setHeaders,
} from './testing.js';

const snapshot = snapshotFromYaml(TWO_BACKENDS_YAML, { PRIMARY_KEY: 'k' });
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });

function accounting(): Accounting {
  const config = budgetsConfigSchema.parse({
    organisations: [
      {
        name: 'acme',
        teams: [
          {
            name: 't',
            keys: [
              {
                name: 'k',
                sha256: createHash('sha256').update('vk').digest('hex'),
                limits: [{ window: 'day', totalTokens: 1000 }],
              },
            ],
          },
        ],
      },
    ],
  });
  return { budgets: Budgets.create(config, {}, { reapIntervalMs: 0 }), config, estimator: new PromptEstimator() };
}

async function reserved(a: Accounting): Promise<number> {
  return (await a.budgets.snapshot()).reduce((sum, view) => sum + view.reserved, 0);
}

before(() => loadEncoders());

test('with budgets, a request without a key is refused with a 401 before routing', async () => {
  const stage = new RouterStage(snapshot, accounting());
  await stage.handle(requestHeaders(CHAT_HEADERS));
  const reply = immediate(await stage.handle(requestBody(CHAT)));
  assert.equal(reply?.status, 401);
});

test('a reserved request is routed, carries x-ratelimit headers back, and settles with usage', async () => {
  const a = accounting();
  const stage = new RouterStage(snapshot, a);
  await stage.handle(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' }));
  const routed = await stage.handle(requestBody(CHAT));
  assert.equal(routed.immediate_response, undefined);
  assert.ok((await reserved(a)) > 0, 'reserved while in flight');
  const headers = await stage.handle(
    responseHeaders({ ':status': '200', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
  );
  assert.ok(setHeaders(headers)['x-ratelimit-limit-tokens']);
  await stage.handle(
    responseBody(
      JSON.stringify({ choices: [], usage: { prompt_tokens: 8, completion_tokens: 2, total_tokens: 10 } }),
      true,
    ),
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(await reserved(a), 0);
  const used = (await a.budgets.snapshot()).find((v) => v.metric === 'totalTokens');
  assert.equal(used?.used, 10);
});

test('a client that leaves while the reservation is pending leaves nothing reserved', async () => {
  const a = accounting();
  const stage = new RouterStage(snapshot, a);
  await stage.handle(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' }));
  const pending = stage.handle(requestBody(CHAT));
  stage.close('cancelled'); // before the store answered
  await pending;
  await new Promise((r) => setImmediate(r));
  assert.equal(await reserved(a), 0);
});

test('an error response releases the reservation instead of charging it', async () => {
  const a = accounting();
  const stage = new RouterStage(snapshot, a);
  await stage.handle(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' }));
  await stage.handle(requestBody(CHAT));
  await stage.handle(
    responseHeaders({ ':status': '503', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
  );
  await stage.handle(responseBody('{"error":{"message":"down","type":"server_error","param":null,"code":null}}', true));
  await new Promise((r) => setImmediate(r));
  assert.equal(await reserved(a), 0);
  assert.equal((await a.budgets.snapshot()).find((v) => v.metric === 'totalTokens')?.used, 0);
});

test('a client that leaves after routing, before the answer, is charged the prompt the provider already has', async () => {
  const a = accounting();
  const stage = new RouterStage(snapshot, a);
  await stage.handle(requestHeaders({ ...CHAT_HEADERS, authorization: 'Bearer vk' }));
  await stage.handle(requestBody(CHAT));
  stage.close('cancelled');
  await new Promise((r) => setImmediate(r));
  assert.equal(await reserved(a), 0);
  assert.ok(((await a.budgets.snapshot()).find((v) => v.metric === 'totalTokens')?.used ?? 0) > 0);
});
