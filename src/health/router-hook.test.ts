// The router stage feeds the health tap: whole bodies (translated), SSE chunks (before the owed tail), unreadable
// 200s and streams cut mid-way. Drives RouterStage with Envoy-shaped messages, as src/extproc's tests do.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromYaml, TWO_BACKENDS_YAML } from '../testing/config.js';
import { BACKEND_HEADER } from '../extproc/contract.js';
import { RouterStage } from '../extproc/router-stage.js';
import {
  CHAT_HEADERS,
  metadataValues,
  requestBody,
  requestHeaders,
  responseBody,
  responseHeaders,
} from '../extproc/testing.js';
import { METADATA_NAMESPACE } from '../extproc/contract.js';
import { HealthMonitor, type Verdict } from './monitor.js';
import { healthTap } from './tap.js';

const snapshot = snapshotFromYaml(TWO_BACKENDS_YAML, { PRIMARY_KEY: 'k' });
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

function withMonitor() {
  const monitor = new HealthMonitor({ config: () => snapshot.config.health, topology: () => snapshot.topology });
  const seen: Verdict[] = [];
  const original = monitor.record.bind(monitor);
  monitor.record = (...args) => {
    const out = original(...args);
    seen.push(...out);
    return out;
  };
  healthTap.install(monitor);
  return { monitor, seen };
}

async function routed(stream = false) {
  const stage = new RouterStage(snapshot);
  await stage.handle(requestHeaders(CHAT_HEADERS));
  await stage.handle(requestBody(stream ? JSON.stringify({ ...JSON.parse(CHAT), stream: true }) : CHAT));
  return stage;
}

const completion = (content: string) =>
  JSON.stringify({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });
const sse = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('router stage → health tap', () => {
  afterEach(() => healthTap.install(undefined));

  test('a whole 200 with empty content is an empty verdict for the backend that served it', async () => {
    const { seen } = withMonitor();
    const stage = await routed();
    await stage.handle(
      responseHeaders({ ':status': '200', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
    );
    await stage.handle(responseBody(completion(''), true));
    const empty = seen.find((v) => v.check === 'empty');
    assert.equal(empty?.pass, false);
    assert.equal(empty?.backend, 'primary');
    assert.equal(empty?.model, 'gpt-4o-mini');
  });

  test('a healthy stream passes every check, seen before the owed tail', async () => {
    const { seen } = withMonitor();
    const stage = await routed(true);
    await stage.handle(
      responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', [BACKEND_HEADER]: 'primary' }),
    );
    await stage.handle(responseBody(sse({ role: 'assistant', content: 'Hello' }), false));
    await stage.handle(responseBody(sse({ content: ' there.' }) + sse({}, 'stop') + 'data: [DONE]\n\n', true));
    assert.ok(seen.length > 0);
    assert.ok(
      seen.every((v) => v.pass),
      JSON.stringify(seen),
    );
  });

  test('a stream without finish_reason is incomplete although the gateway completes it for the client', async () => {
    const { seen } = withMonitor();
    const stage = await routed(true);
    await stage.handle(
      responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', [BACKEND_HEADER]: 'primary' }),
    );
    await stage.handle(responseBody(sse({ role: 'assistant', content: 'Hello' }), true));
    assert.equal(seen.find((v) => v.check === 'stream_incomplete')?.pass, false);
  });

  test('a stream cut mid-way (ext_proc stream closed) is incomplete', async () => {
    const { seen } = withMonitor();
    const stage = await routed(true);
    await stage.handle(
      responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', [BACKEND_HEADER]: 'primary' }),
    );
    await stage.handle(responseBody(sse({ role: 'assistant', content: 'Hel' }), false));
    stage.close('cancelled');
    assert.equal(seen.find((v) => v.check === 'stream_incomplete')?.pass, false);
  });

  test('an unreadable 200 (the client gets a 502) is an error_payload verdict', async () => {
    const { seen } = withMonitor();
    const stage = await routed();
    await stage.handle(
      responseHeaders({ ':status': '200', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
    );
    await stage.handle(responseBody('{"id":"x","choices":[{"message":', true));
    assert.equal(seen.find((v) => v.check === 'error_payload')?.pass, false);
  });

  test('errors (non-200) and requests without a monitor are not observed', async () => {
    const { seen } = withMonitor();
    const stage = await routed();
    await stage.handle(
      responseHeaders({ ':status': '500', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
    );
    await stage.handle(responseBody('{"error":{"message":"boom"}}', true));
    assert.equal(seen.length, 0);
    healthTap.install(undefined);
    const quiet = await routed();
    await quiet.handle(
      responseHeaders({ ':status': '200', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
    );
    await quiet.handle(responseBody(completion(''), true));
    assert.equal(seen.length, 0);
  });

  test("the verdict rides in the exchange's dynamic metadata (health_verdict) for the access log", async () => {
    withMonitor();
    const bad = await routed();
    await bad.handle(
      responseHeaders({ ':status': '200', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
    );
    const badBody = await bad.handle(responseBody(completion(''), true));
    assert.equal(metadataValues(badBody, METADATA_NAMESPACE).health_verdict, 'fail:empty');
    const good = await routed(true);
    await good.handle(
      responseHeaders({ ':status': '200', 'content-type': 'text/event-stream', [BACKEND_HEADER]: 'primary' }),
    );
    await good.handle(responseBody(sse({ role: 'assistant', content: 'Hello' }), false));
    const last = await good.handle(
      responseBody(sse({ content: ' there.' }) + sse({}, 'stop') + 'data: [DONE]\n\n', true),
    );
    assert.equal(metadataValues(last, METADATA_NAMESPACE).health_verdict, 'pass');
    // Not checked (an error): no verdict key at all.
    const error = await routed();
    await error.handle(
      responseHeaders({ ':status': '500', 'content-type': 'application/json', [BACKEND_HEADER]: 'primary' }),
    );
    const errorBody = await error.handle(responseBody('{"error":{"message":"boom"}}', true));
    assert.equal(metadataValues(errorBody, METADATA_NAMESPACE).health_verdict, undefined);
  });
});
