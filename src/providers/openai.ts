// OpenAI and OpenAI-compatible backends (vLLM, Ollama, Groq, …): the wire format is already unified, so the
// request only gets the backend's model name, credentials and path, and responses pass through byte for byte
// unless something must change (the usage chunk the client did not ask for, a non-OpenAI error shape).
import type { ChatRequest } from '../unified/chat-request.js';
import { SseDecoder, type SseEvent } from '../unified/sse.js';
import { usageFromOpenAI, type Usage } from '../unified/usage.js';
import type { OpenAIErrorBody } from '../unified/errors.js';
import type {
  Provider,
  ResponseContext,
  StreamTranslator,
  TranslatedBody,
  UpstreamRequest,
  UpstreamTarget,
} from './provider.js';

export function joinPath(base: URL, suffix: string): string {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return `${prefix}${suffix}${base.search}`;
}

export function credentialHeaders(target: UpstreamTarget): Record<string, string> {
  const { backend } = target;
  const headers: Record<string, string> = { ...backend.headers };
  if (backend.apiKey) {
    headers[backend.apiKeyHeader] =
      backend.apiKeyHeader === 'authorization' ? `Bearer ${backend.apiKey.reveal()}` : backend.apiKey.reveal();
  }
  return headers;
}

function buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
  const outbound: ChatRequest = { ...request, model: target.upstreamModel };
  // Always ask for usage when streaming: budgets and metrics need it. The router stage removes the extra
  // usage chunk again when the client did not ask for it.
  if (request.stream === true) outbound.stream_options = { ...request.stream_options, include_usage: true };
  return {
    path: joinPath(target.backend.baseUrl, '/chat/completions'),
    headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
    body: Buffer.from(JSON.stringify(outbound)),
  };
}

function parseJson(text: Buffer | string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** OpenAI-compatible servers disagree on error shapes ({"error":"…"}, {"detail":…}, {"message":…}, plain text). */
export function normaliseErrorBody(status: number, body: Buffer): Buffer | undefined {
  const json = parseJson(body);
  if (isRecord(json) && isRecord(json.error) && typeof json.error.message === 'string') return undefined;
  let message: string | undefined;
  if (isRecord(json)) {
    for (const key of ['error', 'message', 'detail'] as const) {
      const value = json[key];
      if (typeof value === 'string') {
        message = value;
        break;
      }
      if (isRecord(value) && typeof value.message === 'string') {
        message = value.message;
        break;
      }
    }
  }
  message ??= body.toString('utf8').trim().slice(0, 500) || `upstream returned HTTP ${status}`;
  const unified: OpenAIErrorBody = {
    error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null },
  };
  return Buffer.from(JSON.stringify(unified));
}

function translateResponse(status: number, body: Buffer): TranslatedBody {
  if (status < 200 || status >= 300) return { body: normaliseErrorBody(status, body), usage: undefined };
  const json = parseJson(body);
  return { body: undefined, usage: isRecord(json) ? usageFromOpenAI(json.usage) : undefined };
}

/** Byte-level pre-check so only the events that can carry usage are decoded and parsed on the hot path. */
function mayCarryUsage(event: SseEvent): boolean {
  return event.raw.includes('"usage":{') || event.raw.includes('"usage": {');
}

class OpenAIStreamTranslator implements StreamTranslator {
  readonly #decoder = new SseDecoder();
  #usage: Usage | undefined;

  constructor(private readonly context: ResponseContext) {}

  get usage(): Usage | undefined {
    return this.#usage;
  }

  push(chunk: Buffer): Buffer | undefined {
    const carriedBytes = this.#decoder.pendingBytes > 0;
    const events = this.#decoder.push(chunk);
    let dropped = false;
    const kept: Buffer[] = [];
    for (const event of events) {
      if (this.#inspect(event)) kept.push(event.raw);
      else dropped = true;
    }
    if (!dropped && !carriedBytes && this.#decoder.pendingBytes === 0) return undefined;
    return Buffer.concat(kept);
  }

  end(): Buffer {
    return this.#decoder.end();
  }

  /** Records usage; returns false when the event must not reach the client. */
  #inspect(event: SseEvent): boolean {
    if (!mayCarryUsage(event)) return true;
    const json = parseJson(event.data);
    if (!isRecord(json)) return true;
    const usage = usageFromOpenAI(json.usage);
    if (usage) this.#usage = usage;
    const usageOnlyChunk = Array.isArray(json.choices) && json.choices.length === 0;
    return !(usageOnlyChunk && !this.context.clientWantsUsage);
  }
}

export const openAIProvider: Provider = {
  checkRequest: () => undefined,
  buildRequest,
  isStream: (contentType) => contentType.startsWith('text/event-stream'),
  translateResponse: (status, body) => translateResponse(status, body),
  createStreamTranslator: (context) => new OpenAIStreamTranslator(context),
};
