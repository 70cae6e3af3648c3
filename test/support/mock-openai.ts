// A mock OpenAI-compatible upstream for end-to-end tests: speaks Chat Completions (JSON and SSE) on loopback,
// records what it received, and can be told to fail.
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { listenOnLoopback } from '../../src/testing/http.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface MockOpenAI {
  readonly baseUrl: string;
  readonly received: ReceivedRequest[];
  /** Status to answer the next requests with instead of a completion (cleared with undefined). */
  failWith: number | undefined;
  /** Delay between SSE chunks, ms. */
  chunkDelayMs: number;
  /** Number of content chunks in a streamed answer. */
  streamChunks: number;
  /** Streams that ended because the client (the proxy) went away. */
  readonly abortedStreams: number;
  /** finish_reason of the last stream chunk (null: a server that never sends one). */
  finishReason: string | null;
  /** false: ignore stream_options.include_usage (a server that cannot stream usage). */
  streamUsage: boolean;
  /** How a whole (non-streamed) 200 is broken: 'invalid-json', or 'gzip' (compressed though identity was asked). */
  brokenBody: 'invalid-json' | 'gzip' | undefined;
  /** Content chunks written to streams so far (each one word of COMPLETION_TEXT). */
  readonly contentChunksSent: number;
  close(): Promise<void>;
}

export const COMPLETION_TEXT = 'Hello from the mock upstream.';

function completion(model: string) {
  return {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: COMPLETION_TEXT, refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19, prompt_tokens_details: { cached_tokens: 0 } },
  };
}

function chunk(model: string, delta: Record<string, unknown>, finish: string | null, includeUsage: boolean) {
  const body: Record<string, unknown> = {
    id: 'chatcmpl-mock',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  };
  if (includeUsage) body.usage = null;
  return `data: ${JSON.stringify(body)}\n\n`;
}

export async function startMockOpenAI(options: { apiKey?: string } = {}): Promise<MockOpenAI> {
  const received: ReceivedRequest[] = [];
  let abortedStreams = 0;
  let contentChunksSent = 0;
  const state = {
    failWith: undefined as number | undefined,
    chunkDelayMs: 0,
    streamChunks: 5,
    finishReason: 'stop' as string | null,
    streamUsage: true,
    brokenBody: undefined as 'invalid-json' | 'gzip' | undefined,
  };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString();
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const error = (status: number, message: string, type: string) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message, type, param: null, code: null } }));
      };
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`)
        return error(401, 'Incorrect API key provided.', 'invalid_request_error');
      if (state.failWith !== undefined) return error(state.failWith, `mock failure ${state.failWith}`, 'server_error');
      if (req.url !== '/v1/chat/completions') return error(404, `no route ${req.url}`, 'invalid_request_error');
      const model = String(body.model);
      if (body.stream !== true && state.brokenBody === 'invalid-json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"id":"chatcmpl-mock","choices":[{"message":');
      }
      if (body.stream !== true && state.brokenBody === 'gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        return res.end(gzipSync(JSON.stringify(completion(model))));
      }
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(completion(model)));
      }
      const includeUsage =
        state.streamUsage && (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const words = COMPLETION_TEXT.split(/(?<= )/);
      const pieces = Array.from({ length: state.streamChunks }, (_, i) => words[i % words.length] ?? '');
      const events = [
        chunk(model, { role: 'assistant', content: '' }, null, includeUsage),
        ...pieces.map((p) => chunk(model, { content: p }, null, includeUsage)),
        chunk(model, {}, state.finishReason, includeUsage),
      ];
      if (includeUsage) {
        events.push(
          `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage: completion(model).usage })}\n\n`,
        );
      }
      events.push('data: [DONE]\n\n');
      let i = 0;
      let finished = false;
      res.on('close', () => {
        if (!finished) abortedStreams++;
      });
      const next = () => {
        if (res.destroyed) return;
        if (i >= events.length) {
          finished = true;
          return res.end();
        }
        if (i > 0 && i <= pieces.length) contentChunksSent++;
        res.write(events[i++]);
        if (state.chunkDelayMs > 0) setTimeout(next, state.chunkDelayMs);
        else setImmediate(next);
      };
      next();
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    get chunkDelayMs() {
      return state.chunkDelayMs;
    },
    set chunkDelayMs(v) {
      state.chunkDelayMs = v;
    },
    get streamChunks() {
      return state.streamChunks;
    },
    set streamChunks(v) {
      state.streamChunks = v;
    },
    get abortedStreams() {
      return abortedStreams;
    },
    get contentChunksSent() {
      return contentChunksSent;
    },
    get finishReason() {
      return state.finishReason;
    },
    set finishReason(v) {
      state.finishReason = v;
    },
    get streamUsage() {
      return state.streamUsage;
    },
    set streamUsage(v) {
      state.streamUsage = v;
    },
    get brokenBody() {
      return state.brokenBody;
    },
    set brokenBody(v) {
      state.brokenBody = v;
    },
    close,
  };
}
