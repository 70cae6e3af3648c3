// Bench payloads: what Envoy hands the ext_proc service for one realistic OpenAI chat exchange. Deterministic so
// every run (and every machine) measures the same bytes.
import { createHash } from 'node:crypto';
import { BACKEND_HEADER, REQUEST_ID_HEADER, ROUTE_HEADER } from '../src/extproc/contract.js';
import { clusterNameForModel } from '../src/config/topology.js';
import { generateProse } from './prose.js';

export const CLIENT_MODEL = 'gpt-4o-mini';
export const UPSTREAM_MODEL = 'llama-3.1-8b-instruct';
export const BACKEND = 'local-vllm';
export const BACKEND_KEY_ENV = 'BENCH_BACKEND_KEY';
export const BACKEND_KEY = 'sk-bench-upstream-0123456789abcdef';
export const BACKEND_BASE_PATH = '/v1';
export const ROUTE_CLUSTER = clusterNameForModel(CLIENT_MODEL);

/** The bench client's virtual key (sent in authorization, see the request headers below). */
const CLIENT_VIRTUAL_KEY = 'sk-client-virtual-key-abcdef0123456789';

/**
 * The real server's config: one openai-compatible backend serving one client model, with budgets on (memory store)
 * as users run it: every request is identified, its prompt counted and reserved, and settled with the usage.
 */
export const BENCH_CONFIG_YAML = `
logging:
  level: warn
backends:
  - name: ${BACKEND}
    provider: openai-compatible
    baseUrl: http://10.0.0.12:8000${BACKEND_BASE_PATH}
    apiKeyEnv: ${BACKEND_KEY_ENV}
routes:
  - model: ${CLIENT_MODEL}
    backends:
      - backend: ${BACKEND}
        model: ${UPSTREAM_MODEL}
budgets:
  store: { kind: memory }
  prices:
    ${CLIENT_MODEL}: { input: 0.15, cachedInput: 0.075, output: 0.60 }
  organisations:
    - name: bench
      teams:
        - name: load
          keys:
            - { name: client, sha256: "${createHash('sha256').update(CLIENT_VIRTUAL_KEY).digest('hex')}", limits: [{ window: month, costUsd: 1000000000 }] }
`;

export const BENCH_ENV: Readonly<Record<string, string>> = { [BACKEND_KEY_ENV]: BACKEND_KEY };

/** Pads `make(filler)` with sentences until its UTF-8 size reaches `target` bytes (never exceeds it by much). */
function padTo(target: number, make: (filler: string) => string): string {
  const sentence = 'The quick brown fox reviews the pull request and leaves a careful comment. ';
  let filler = '';
  while (Buffer.byteLength(make(filler + sentence)) <= target) filler += sentence;
  // Fill the last few bytes character by character for a size close to the target.
  const alphabet = 'abcdefghij';
  let i = 0;
  while (Buffer.byteLength(make(filler + alphabet[i % alphabet.length])) <= target && i < 200) {
    filler += alphabet[i % alphabet.length];
    i++;
  }
  return make(filler);
}

/**
 * Every exchange writes its sequence number over this placeholder (same length, so content-length holds): the last
 * user turn differs from request to request, as in a real conversation, while the history before it repeats.
 */
export const TURN_PLACEHOLDER = 'Turn #00000000.';

/** The request body of exchange `seq`: `base` with the turn number written into the last user message. */
export function withTurn(base: Buffer, seq: number): Buffer {
  const at = base.indexOf(TURN_PLACEHOLDER);
  if (at === -1) return base;
  const body = Buffer.from(base);
  body.write(String(seq % 1e8).padStart(8, '0'), at + 'Turn #'.length, 'latin1');
  return body;
}

function chatRequest(stream: boolean): Buffer {
  return Buffer.from(padTo(2048, (filler) => chatRequestText(stream, filler)));
}

/**
 * The same conversation with its last user turn filled with generated English prose (words vary, as in real
 * prompts) to a body of about `bytes` bytes: the prompt-size scenarios (`bench/run.ts --prompt-sizes`).
 */
export function chatRequestOfSize(stream: boolean, bytes: number): Buffer {
  const overhead = Buffer.byteLength(chatRequestText(stream, ''));
  // The prose is ASCII and has no characters JSON escapes except newlines (2 bytes each): trim to fit.
  let filler = generateProse(Math.max(0, bytes - overhead), 3);
  while (Buffer.byteLength(chatRequestText(stream, filler)) > bytes && filler.length > 0)
    filler = filler.slice(0, filler.length - (Buffer.byteLength(chatRequestText(stream, filler)) - bytes));
  return Buffer.from(chatRequestText(stream, filler));
}

function chatRequestText(stream: boolean, filler: string): string {
  return JSON.stringify({
    model: CLIENT_MODEL,
    messages: [
      {
        role: 'system',
        content:
          'You are a senior TypeScript reviewer. Answer concisely, cite line numbers, and propose minimal patches. ' +
          'Prefer standard library APIs. Never invent functions that do not exist in the code you were shown.',
      },
      {
        role: 'user',
        content:
          'Review this function:\n```ts\nexport function chunk<T>(items: T[], size: number): T[][] {\n  const out: T[][] = [];\n' +
          '  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));\n  return out;\n}\n```',
      },
      {
        role: 'assistant',
        content:
          'The function is correct for positive sizes. With size <= 0 the loop never terminates; validate the argument ' +
          'and throw a RangeError. Consider a generator if callers stream large arrays.',
      },
      {
        role: 'user',
        content: `${TURN_PLACEHOLDER} Please write the patch with the RangeError and a unit test. Context: ${filler}`,
      },
    ],
    temperature: 0.2,
    top_p: 1,
    max_tokens: 512,
    stream,
    user: 'bench-user-42',
  });
}

export const REQUEST_BODY_JSON = chatRequest(false);
export const REQUEST_BODY_SSE = chatRequest(true);

const CREATED = 1_735_689_600;
const COMPLETION_ID = 'chatcmpl-bench0123456789abcdefghijkl';
export const USAGE = { prompt_tokens: 412, completion_tokens: 198, total_tokens: 610 };

/** ~1 KB non-streaming chat.completion with usage. */
export const RESPONSE_BODY_JSON = Buffer.from(
  padTo(1024, (filler) =>
    JSON.stringify({
      id: COMPLETION_ID,
      object: 'chat.completion',
      created: CREATED,
      model: UPSTREAM_MODEL,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: `Here is the patch:\n\`\`\`ts\nif (!Number.isInteger(size) || size <= 0) throw new RangeError('size must be a positive integer');\n\`\`\`\n${filler}`,
            refusal: null,
          },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        ...USAGE,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      system_fingerprint: 'fp_bench01',
      service_tier: 'default',
    }),
  ),
);

export const SSE_CONTENT_CHUNKS = 200;

function sseEvent(payload: unknown): Buffer {
  return Buffer.from(`data: ${JSON.stringify(payload)}\n\n`);
}

function chunkEvent(delta: Record<string, unknown>, finishReason: string | null): Buffer {
  return sseEvent({
    id: COMPLETION_ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: UPSTREAM_MODEL,
    system_fingerprint: 'fp_bench01',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  });
}

const WORDS = ['Here', ' is', ' the', ' patch', ':', ' validate', ' size', ' first', ',', ' then', ' loop', '.'];

/**
 * The streamed response as Envoy hands it over in STREAMED mode: one event per response_body message.
 * 200 chat.completion.chunk events (the first carries the role, the last the finish_reason), the usage chunk
 * (choices: [], which the upstream stage asked for and the router stage drops because this client did not), [DONE].
 */
export const SSE_RESPONSE_CHUNKS: readonly Buffer[] = (() => {
  const chunks: Buffer[] = [chunkEvent({ role: 'assistant', content: '', refusal: null }, null)];
  for (let i = 1; i < SSE_CONTENT_CHUNKS - 1; i++) chunks.push(chunkEvent({ content: WORDS[i % WORDS.length] }, null));
  chunks.push(chunkEvent({}, 'stop'));
  chunks.push(
    sseEvent({
      id: COMPLETION_ID,
      object: 'chat.completion.chunk',
      created: CREATED,
      model: UPSTREAM_MODEL,
      system_fingerprint: 'fp_bench01',
      choices: [],
      usage: {
        ...USAGE,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    }),
  );
  chunks.push(Buffer.from('data: [DONE]\n\n'));
  return chunks;
})();

/** Index of the usage-only chunk in SSE_RESPONSE_CHUNKS. */
export const SSE_USAGE_CHUNK_INDEX = SSE_RESPONSE_CHUNKS.length - 2;

export type HeaderList = ReadonlyArray<readonly [string, string]>;

/** Downstream request headers as the router-level ext_proc filter sees them (HTTP/2 client through Envoy). */
export function routerRequestHeaders(requestId: string, body: Buffer, stream: boolean): HeaderList {
  return [
    [':authority', 'llm-gateway.internal.example.com'],
    [':path', '/v1/chat/completions'],
    [':method', 'POST'],
    [':scheme', 'https'],
    ['content-type', 'application/json'],
    ['content-length', String(body.length)],
    ['accept', stream ? 'text/event-stream' : 'application/json'],
    ['authorization', `Bearer ${CLIENT_VIRTUAL_KEY}`],
    ['user-agent', 'OpenAI/Python 1.54.4'],
    ['x-stainless-lang', 'python'],
    ['x-stainless-package-version', '1.54.4'],
    ['x-forwarded-proto', 'https'],
    ['x-forwarded-for', '10.1.2.3'],
    [REQUEST_ID_HEADER, requestId],
  ];
}

/** What the upstream-level filter sees: the router's headers plus the route header and Envoy's own additions. */
export function upstreamRequestHeaders(requestId: string, body: Buffer, stream: boolean): HeaderList {
  return [
    ...routerRequestHeaders(requestId, body, stream),
    [ROUTE_HEADER, ROUTE_CLUSTER],
    ['x-envoy-expected-rq-timeout-ms', '300000'],
  ];
}

/** Upstream response headers (vLLM-like), as the upstream-level filter sees them. */
export function upstreamResponseHeaders(stream: boolean): HeaderList {
  return [
    [':status', '200'],
    ['content-type', stream ? 'text/event-stream; charset=utf-8' : 'application/json'],
    ...(stream ? [] : ([['content-length', String(RESPONSE_BODY_JSON.length)]] as const)),
    ['date', 'Wed, 01 Jan 2025 00:00:00 GMT'],
    ['server', 'uvicorn'],
    ['x-envoy-upstream-service-time', '812'],
  ];
}

/** The router-level filter sees the upstream's headers plus the backend tag the upstream stage added. */
export function routerResponseHeaders(stream: boolean): HeaderList {
  return [...upstreamResponseHeaders(stream), [BACKEND_HEADER, BACKEND]];
}
