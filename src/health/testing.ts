// Test helpers for src/health: a monitor over two openai-compatible backends (a, b) and what it publishes, a loopback
// OpenAI-compatible upstream for probes, and the backend `b` that points at it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { parseConfig } from '../config/load.js';
import { resolveTopology, type ResolvedBackend } from '../config/topology.js';
import { listenOnLoopback } from '../testing/http.js';
import type { ChatRequest } from '../unified/chat-request.js';
import { HealthMonitor, type PublishedState } from './monitor.js';
import { observeWholeBody } from './observe.js';

/** Backends a and b (unreachable: the monitor only judges answers it is shown), as a config's `backends:` block. */
export const TWO_BACKENDS = `
backends:
  - { name: a, provider: openai-compatible, baseUrl: "http://127.0.0.1:1/v1" }
  - { name: b, provider: openai-compatible, baseUrl: "http://127.0.0.1:2/v1" }
`;

/** A monitor over TWO_BACKENDS and `routes` (YAML list lines) on a test clock, and every state it publishes. */
export function monitorFixture(routes: string, clock = { now: 0 }) {
  const parsed = parseConfig(`${TWO_BACKENDS}routes:\n${routes}\n`);
  if (!parsed.ok) throw new Error('config');
  const topology = resolveTopology(parsed.config, {});
  const monitor = new HealthMonitor({
    config: () => parsed.config.health,
    topology: () => topology,
    now: () => clock.now,
  });
  const published: Array<[string, PublishedState]> = [];
  monitor.attach((backend, state) => published.push([backend, state]));
  return { monitor, published };
}

/** A canary's prompt: the first message's text (canaries send plain strings). */
export function promptOf(request: ChatRequest): string {
  const content = request.messages[0]?.content;
  if (typeof content !== 'string') throw new Error(`a canary prompt is a string, got ${JSON.stringify(content)}`);
  return content;
}

export const chatRequest: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
export const emptyAnswer = observeWholeBody(
  JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'stop' }] }),
);
export const noLatency = { ttftMs: undefined, tokensPerSecond: undefined };

/** A chat completion body with one choice. */
export function completion(
  message: Record<string, unknown>,
  finishReason = 'stop',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: 'x',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message, finish_reason: finishReason }],
    ...extra,
  };
}

/** A loopback OpenAI-compatible upstream; `answer` gets each request's JSON body and headers. */
export async function startCompletionUpstream(
  answer: (
    body: Record<string, unknown>,
    headers: http.IncomingHttpHeaders,
  ) => { readonly status: number; readonly body: unknown },
): Promise<{ readonly baseUrl: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const { status, body } = answer(
        JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown>,
        req.headers,
      );
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  const listening = await listenOnLoopback(server);
  return { baseUrl: `http://127.0.0.1:${listening.port}/v1`, close: listening.close };
}

/** Backend b at `baseUrl` (key B_KEY = secret-key), serving model m as upstream-m; `extra` goes into its YAML map. */
export function probedBackend(baseUrl: string, extra = ''): ResolvedBackend {
  const parsed = parseConfig(`
backends: [{ name: b, provider: openai-compatible, baseUrl: "${baseUrl}", apiKeyEnv: B_KEY${extra} }]
routes: [{ model: m, backends: [{ backend: b, model: upstream-m }] }]
`);
  if (!parsed.ok) throw new Error('config');
  const found = resolveTopology(parsed.config, { B_KEY: 'secret-key' }).backends.get('b');
  assert.ok(found);
  return found;
}
