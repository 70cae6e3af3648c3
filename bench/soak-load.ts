// The soak's client: Chat Completions requests through the proxy over keep-alive HTTP/1.1 (one node:http Agent with
// maxSockets = concurrency), JSON and SSE mixed, every answer checked in full. Used by bench/soak.ts and by
// test/e2e/soak.test.ts. Expects the mock upstream of test/support/mock-openai.ts (5 content chunks that spell
// COMPLETION_TEXT, usage 12/7/19), which never sends an error: any non-200 is the proxy's or the service's doing.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { COMPLETION_TEXT } from '../test/support/mock-openai.js';

export const SOAK_MODEL = 'gpt-4o-mini';
const MOCK_TOTAL_TOKENS = 19;
/** The environment variable the soak config names for the provider key, the key the mock wants, and the client's virtual key. */
export const SOAK_KEY_ENV = 'LLM_EXTPROC_SOAK_KEY';
export const SOAK_PROVIDER_KEY = 'sk-soak-provider';
export const SOAK_VIRTUAL_KEY = 'vk-soak';

/**
 * The soak's service config: one OpenAI backend (the mock) for SOAK_MODEL; with `budgets`, the memory store and a
 * virtual key whose limits (requests, tokens, money, rpm/tpm on every level) can never be reached, so any refusal
 * is a bug. Listeners on loopback port 0, the local data plane off (Envoy is the data plane), logs at error.
 */
export function soakConfigYaml(upstreamBaseUrl: string, budgets: boolean): string {
  const sha = createHash('sha256').update(SOAK_VIRTUAL_KEY).digest('hex');
  const huge = 1_000_000_000_000;
  const budgetSection = `budgets:
  store: { kind: memory }
  prices:
    ${SOAK_MODEL}: { input: 0.15, output: 0.60 }
  organisations:
    - name: soak
      limits: [{ window: day, requests: ${huge}, totalTokens: ${huge} }]
      rate: { rpm: ${huge}, tpm: ${huge} }
      teams:
        - name: load
          keys:
            - { name: soak-key, sha256: "${sha}", limits: [{ window: month, costUsd: ${huge} }] }
`;
  return `extproc: { address: 127.0.0.1:0 }
admin: { address: 127.0.0.1:0 }
dataPlane: { enabled: false, address: 127.0.0.1:0 }
logging: { level: error }
backends:
  - { name: mock, provider: openai, baseUrl: "${upstreamBaseUrl}", apiKeyEnv: ${SOAK_KEY_ENV} }
routes:
  - model: ${SOAK_MODEL}
    backends: [{ backend: mock }]
${budgets ? budgetSection : ''}`;
}

export interface SoakLoadOptions {
  /** The proxy's base URL, e.g. http://127.0.0.1:10000/v1 */
  readonly baseUrl: string;
  readonly requests: number;
  readonly concurrency: number;
  /** Every `sseEvery`-th request (index % sseEvery === 1) streams with include_usage; 2 = half. */
  readonly sseEvery?: number;
  /** Sent as `Authorization: Bearer …` (a virtual key when budgets are on). */
  readonly apiKey?: string;
  /** One request may take this long before it counts as a client error (timeout). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Stop starting requests after this instant (Date.now() ms); requests not started are reported as `notStarted`. */
  readonly deadline?: number;
  /** Called every `progressEvery` finished requests. */
  readonly onProgress?: (done: number) => void;
  readonly progressEvery?: number;
  /** Index of the first request (for unique prompts across phases). */
  readonly firstIndex?: number;
}

/** A problem worth a look, kept for the first few of each kind. */
export interface SoakExample {
  readonly kind: string;
  readonly index: number;
  readonly stream: boolean;
  readonly detail: string;
}

export interface SoakCounts {
  requests: number;
  json: number;
  sse: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** 5xx responses: the mock never sends one, so each is a failure of the proxy or the service. */
  unexpected5xx: number;
  /** Other non-200 responses (a 429 with budgets that never refuse is a bug too). */
  unexpectedNon200: number;
  /** The response started, then the connection or stream was cut before its end (mid-stream reset). */
  resets: number;
  /** The body ended cleanly but was incomplete or wrong: SSE without `data: [DONE]`, unparsable events, an error event, wrong content or usage. */
  truncated: number;
  /** A 200 JSON body that does not parse or is not the mock's completion. */
  badBodies: number;
  /** Failures before any response (ECONNRESET, ECONNREFUSED, timeout…), by code. */
  clientErrors: Record<string, number>;
  notStarted: number;
  examples: SoakExample[];
  /** Per-request wall time, ms (unsorted). */
  latenciesMs: number[];
  wallMs: number;
}

const EXAMPLES_PER_KIND = 5;

export function emptyCounts(): SoakCounts {
  return {
    requests: 0,
    json: 0,
    sse: 0,
    statuses: {},
    unexpected5xx: 0,
    unexpectedNon200: 0,
    resets: 0,
    truncated: 0,
    badBodies: 0,
    clientErrors: {},
    notStarted: 0,
    examples: [],
    latenciesMs: [],
    wallMs: 0,
  };
}

/** Sums b into a (for totals over phases). */
export function addCounts(a: SoakCounts, b: SoakCounts): SoakCounts {
  const merge = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    requests: a.requests + b.requests,
    json: a.json + b.json,
    sse: a.sse + b.sse,
    statuses: merge(a.statuses, b.statuses),
    unexpected5xx: a.unexpected5xx + b.unexpected5xx,
    unexpectedNon200: a.unexpectedNon200 + b.unexpectedNon200,
    resets: a.resets + b.resets,
    truncated: a.truncated + b.truncated,
    badBodies: a.badBodies + b.badBodies,
    clientErrors: merge(a.clientErrors, b.clientErrors),
    notStarted: a.notStarted + b.notStarted,
    examples: [...a.examples, ...b.examples],
    latenciesMs: [...a.latenciesMs, ...b.latenciesMs],
    wallMs: a.wallMs + b.wallMs,
  };
}

/** Failures of any kind in these counts (0 = every request got the full, correct answer). */
export function failureCount(c: SoakCounts): number {
  return (
    c.unexpected5xx +
    c.unexpectedNon200 +
    c.resets +
    c.truncated +
    c.badBodies +
    Object.values(c.clientErrors).reduce((s, n) => s + n, 0) +
    c.notStarted
  );
}

function requestBody(index: number, stream: boolean): string {
  return JSON.stringify({
    model: SOAK_MODEL,
    messages: [
      { role: 'system', content: 'You are a terse assistant.' },
      { role: 'user', content: `Say hello to request ${index}.` },
    ],
    max_tokens: 32,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/** Why a streamed 200 body is not a complete, correct stream; undefined when it is. */
export function checkSse(body: string): string | undefined {
  const events = body.split(/\r?\n\r?\n/).filter((e) => e.trim() !== '');
  if (events.length === 0) return 'empty stream';
  const last = events.at(-1)?.trim();
  if (last !== 'data: [DONE]')
    return `does not end with data: [DONE] (last event: ${JSON.stringify(last?.slice(0, 120))})`;
  let content = '';
  let usageTotal: number | undefined;
  for (const event of events.slice(0, -1)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data === '[DONE]') return '[DONE] before the end';
    let parsed: {
      error?: unknown;
      choices?: Array<{ delta?: { content?: string | null } }>;
      usage?: { total_tokens?: number } | null;
    };
    try {
      parsed = JSON.parse(data) as typeof parsed;
    } catch {
      return `unparsable event ${JSON.stringify(data.slice(0, 120))}`;
    }
    if (parsed.error !== undefined) return `error event ${JSON.stringify(parsed.error).slice(0, 200)}`;
    for (const choice of parsed.choices ?? []) content += choice.delta?.content ?? '';
    if (parsed.usage) usageTotal = parsed.usage.total_tokens;
  }
  if (content !== COMPLETION_TEXT) return `content ${JSON.stringify(content)} is not the mock's`;
  if (usageTotal !== MOCK_TOTAL_TOKENS) return `usage total ${usageTotal} (expected ${MOCK_TOTAL_TOKENS})`;
  return undefined;
}

/** Why a JSON 200 body is not the mock's completion; undefined when it is. */
export function checkJson(body: string): string | undefined {
  let parsed: { choices?: Array<{ message?: { content?: string } }>; usage?: { total_tokens?: number } };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return `unparsable body ${JSON.stringify(body.slice(0, 120))}`;
  }
  if (parsed.choices?.[0]?.message?.content !== COMPLETION_TEXT)
    return `content ${JSON.stringify(parsed.choices?.[0]?.message?.content)}`;
  if (parsed.usage?.total_tokens !== MOCK_TOTAL_TOKENS) return `usage total ${parsed.usage?.total_tokens}`;
  return undefined;
}

type Outcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly body: string;
      readonly headers: http.IncomingHttpHeaders;
    }
  | { readonly kind: 'reset'; readonly status: number; readonly bytes: number; readonly error: string }
  | { readonly kind: 'client-error'; readonly code: string; readonly error: string };

function send(
  url: URL,
  agent: http.Agent,
  body: string,
  apiKey: string | undefined,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: `${url.pathname.replace(/\/$/, '')}/chat/completions`,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          parts.push(chunk);
          bytes += chunk.length;
        });
        res.on('aborted', () => done({ kind: 'reset', status: res.statusCode ?? 0, bytes, error: 'aborted' }));
        res.on('error', (err: NodeJS.ErrnoException) =>
          done({ kind: 'reset', status: res.statusCode ?? 0, bytes, error: err.code ?? err.message }),
        );
        res.on('end', () => {
          // 'end' after 'aborted' never comes in Node 20, but a complete flag is the authority.
          if (!res.complete) return done({ kind: 'reset', status: res.statusCode ?? 0, bytes, error: 'incomplete' });
          done({
            kind: 'response',
            status: res.statusCode ?? 0,
            body: Buffer.concat(parts).toString('utf8'),
            headers: res.headers,
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' }));
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({ kind: 'client-error', code: err.code ?? 'ERROR', error: err.message }),
    );
    req.end(body);
  });
}

/** Runs the load and checks every answer. Never throws for a failed request: it counts it. */
export async function runSoakLoad(options: SoakLoadOptions): Promise<SoakCounts> {
  const url = new URL(options.baseUrl);
  const sseEvery = options.sseEvery ?? 2;
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const progressEvery = options.progressEvery ?? 1000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const counts = emptyCounts();
  const examplesByKind = new Map<string, number>();
  const example = (kind: string, index: number, stream: boolean, detail: string) => {
    const n = examplesByKind.get(kind) ?? 0;
    examplesByKind.set(kind, n + 1);
    if (n < EXAMPLES_PER_KIND) counts.examples.push({ kind, index, stream, detail: detail.slice(0, 400) });
  };
  const first = options.firstIndex ?? 0;
  let next = 0;
  let finished = 0;
  const started = performance.now();

  const one = async (index: number) => {
    const stream = sseEvery > 0 && index % sseEvery === 1;
    if (stream) counts.sse++;
    else counts.json++;
    const t0 = performance.now();
    const outcome = await send(url, agent, requestBody(first + index, stream), options.apiKey, timeoutMs);
    counts.latenciesMs.push(performance.now() - t0);
    counts.requests++;
    switch (outcome.kind) {
      case 'client-error':
        counts.clientErrors[outcome.code] = (counts.clientErrors[outcome.code] ?? 0) + 1;
        example(`client error ${outcome.code}`, index, stream, outcome.error);
        return;
      case 'reset':
        counts.statuses[outcome.status] = (counts.statuses[outcome.status] ?? 0) + 1;
        counts.resets++;
        example(
          'mid-stream reset',
          index,
          stream,
          `status ${outcome.status}, ${outcome.bytes} body bytes, then ${outcome.error}`,
        );
        return;
      case 'response': {
        const { status, body, headers } = outcome;
        counts.statuses[status] = (counts.statuses[status] ?? 0) + 1;
        if (status >= 500) {
          counts.unexpected5xx++;
          example(
            `status ${status}`,
            index,
            stream,
            `body ${JSON.stringify(body.slice(0, 200))} x-request-id ${String(headers['x-request-id'])}`,
          );
          return;
        }
        if (status !== 200) {
          counts.unexpectedNon200++;
          example(`status ${status}`, index, stream, `body ${JSON.stringify(body.slice(0, 200))}`);
          return;
        }
        const problem = stream ? checkSse(body) : checkJson(body);
        if (!problem) return;
        if (stream) counts.truncated++;
        else counts.badBodies++;
        example(stream ? 'truncated or wrong stream' : 'wrong JSON body', index, stream, problem);
      }
    }
  };

  const worker = async () => {
    for (;;) {
      if (next >= options.requests) return;
      if (options.deadline !== undefined && Date.now() > options.deadline) return;
      const index = next++;
      await one(index);
      finished++;
      if (options.onProgress && finished % progressEvery === 0) options.onProgress(finished);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    agent.destroy();
  }
  counts.notStarted = options.requests - next;
  counts.wallMs = performance.now() - started;
  return counts;
}
