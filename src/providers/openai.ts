// OpenAI and OpenAI-shaped backends (OpenAI itself, Azure OpenAI, vLLM, Ollama, Groq, Mistral, …): the wire
// format is already unified, so the request only gets the backend's model name, credentials and path, and
// responses pass through byte for byte unless something must change (the usage chunk the client did not ask for,
// a non-OpenAI error shape, or a quirk of a compatible server that `OpenAIFlavour` switches on).
import type { ResolvedBackend } from '../config/topology.js';
import type { ChatRequest } from '../unified/chat-request.js';
import { SSE_DONE, SseDecoder, encodeSseJson, parseSseEvent, type SseEvent } from '../unified/sse.js';
import { usageFromOpenAI, type Usage } from '../unified/usage.js';
import type { OpenAIErrorBody } from '../unified/errors.js';
import { isRecord, parseJson } from '../util/json.js';
import { OPENAI_TOOL_IDS, rewriteToolCallIds } from './tool-ids.js';
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

/** The outbound body every OpenAI-shaped backend starts from: the client's request with the backend's model. */
export function openAIRequestBody(request: ChatRequest, upstreamModel: string): Record<string, unknown> {
  // Ids from another provider (a failover mid-conversation) may be longer than OpenAI's 40 characters.
  const outbound: Record<string, unknown> = { ...request, model: upstreamModel, messages: rewriteToolCallIds(request.messages, OPENAI_TOOL_IDS) };
  // Always ask for usage when streaming: budgets and metrics need it. The router stage removes the extra
  // usage chunk again when the client did not ask for it.
  if (request.stream === true) outbound.stream_options = { ...request.stream_options, include_usage: true };
  return outbound;
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

/** OpenAI's finish reasons; anything else from a compatible server is mapped (FINISH_ALIASES) or becomes `stop`. */
export const OPENAI_FINISH_REASONS: ReadonlySet<string> = new Set(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);
/** Mistral: `model_length` means the context window ran out, i.e. a truncation. */
const FINISH_ALIASES: Readonly<Record<string, string>> = { model_length: 'length' };
/** Mistral's `error` finish reason: the generation failed, so it becomes an error rather than a plausible `stop`. */
const FINISH_ERROR = 'error';

function upstreamFailure(reason: string): OpenAIErrorBody {
  return {
    error: {
      message: `The upstream model stopped with finish_reason "${reason}": the generation failed.`,
      type: 'server_error',
      param: null,
      code: 'upstream_error',
    },
  };
}

function truncatedStream(): OpenAIErrorBody {
  return {
    error: { message: 'The upstream stream ended before [DONE].', type: 'server_error', param: null, code: 'upstream_stream_truncated' },
  };
}

/** Switches for servers that speak OpenAI's format with an accent. All off for OpenAI itself. */
export interface OpenAIStreamQuirks {
  /**
   * Mistral-style streams: tool-call deltas without `index`/`type`, and finish reasons outside OpenAI's set.
   * Costs a JSON parse per tool-call or finish chunk, so it is only switched on where it can happen.
   */
  readonly repairChunks?: boolean;
  /** Azure: drop the `choices: []` chunk that only carries `prompt_filter_results` (OpenAI clients do not expect it). */
  readonly dropFilterOnlyChunks?: boolean;
}

/** What distinguishes one OpenAI-shaped backend kind from another. */
export interface OpenAIFlavour {
  /** Full request path (incl. query) for one attempt. */
  path(target: UpstreamTarget): string;
  /** Last edits to the outbound body (compat quirks); the default sends the unified body unchanged. */
  adjustBody?(body: Record<string, unknown>, target: UpstreamTarget): Record<string, unknown>;
  checkRequest?(request: ChatRequest, backend: ResolvedBackend): void;
  /** Turns a non-2xx body into the unified error; defaults to normaliseErrorBody. */
  translateError?(status: number, body: Buffer): TranslatedBody;
  /** Whole 2xx bodies: repair finish reasons outside OpenAI's set (parse + re-serialise only when needed). */
  readonly repairWholeBodies?: boolean;
  readonly stream?: OpenAIStreamQuirks;
}

function translateWholeBody(status: number, body: Buffer, flavour: OpenAIFlavour): TranslatedBody {
  if (status < 200 || status >= 300) {
    return flavour.translateError ? flavour.translateError(status, body) : { body: normaliseErrorBody(status, body), usage: undefined };
  }
  const json = parseJson(body);
  if (!isRecord(json)) return { body: undefined, usage: undefined };
  const usage = usageFromOpenAI(json.usage);
  if (!flavour.repairWholeBodies || !Array.isArray(json.choices)) return { body: undefined, usage };
  let changed = false;
  for (const choice of json.choices) {
    if (!isRecord(choice) || typeof choice.finish_reason !== 'string' || OPENAI_FINISH_REASONS.has(choice.finish_reason)) continue;
    if (choice.finish_reason === FINISH_ERROR) {
      return { body: Buffer.from(JSON.stringify(upstreamFailure(FINISH_ERROR))), usage, status: 502 };
    }
    choice.finish_reason = FINISH_ALIASES[choice.finish_reason] ?? 'stop';
    changed = true;
  }
  return { body: changed ? Buffer.from(JSON.stringify(json)) : undefined, usage };
}

/** Byte-level pre-check so only the events that can carry usage are decoded and parsed on the hot path. */
function mayCarryUsage(event: SseEvent): boolean {
  return event.raw.includes('"usage":{') || event.raw.includes('"usage": {');
}

function isDone(event: SseEvent): boolean {
  return event.raw.includes('[DONE]') && event.data.trim() === '[DONE]';
}

/** Per choice: which tool call each id is, for servers that send tool-call deltas without `index`. */
interface ToolCallIndexState {
  readonly byId: Map<string, number>;
  last: number;
}

class OpenAIStreamTranslator implements StreamTranslator {
  readonly #decoder = new SseDecoder();
  readonly #quirks: OpenAIStreamQuirks;
  #usage: Usage | undefined;
  /** The last whole event seen: a stream that ends on anything but [DONE] was cut off upstream. */
  #lastEvent: SseEvent | undefined;
  /** A usage chunk synthesised from usage that rode on a choice chunk (Mistral), sent before [DONE]. */
  #pendingUsageChunk: string | undefined;
  readonly #toolCalls = new Map<number, ToolCallIndexState>();

  constructor(
    private readonly context: ResponseContext,
    quirks: OpenAIStreamQuirks = {},
  ) {
    this.#quirks = quirks;
  }

  get usage(): Usage | undefined {
    return this.#usage;
  }

  push(chunk: Buffer): Buffer | undefined {
    const carriedBytes = this.#decoder.pendingBytes > 0;
    const events = this.#decoder.push(chunk);
    if (events.length > 0) this.#lastEvent = events[events.length - 1];
    let changed = false;
    const kept: Buffer[] = [];
    for (const event of events) {
      const out = this.#translate(event);
      if (out === event.raw) kept.push(event.raw);
      else {
        changed = true;
        if (out !== undefined) kept.push(out);
      }
    }
    if (!changed && !carriedBytes && this.#decoder.pendingBytes === 0) return undefined;
    return Buffer.concat(kept);
  }

  end(): Buffer {
    const tail = this.#decoder.end();
    const last = tail.length > 0 ? parseSseEvent(tail) : this.#lastEvent;
    // A server that closed without [DONE] still owes the client the usage chunk it asked for.
    const owed = this.#takePendingUsageChunk();
    const parts = owed === undefined ? [tail] : [tail, Buffer.from(owed)];
    // …and a stream cut off before [DONE] must not look complete: OpenAI clients would take the partial answer.
    if (last === undefined || !isDone(last)) parts.push(Buffer.from(encodeSseJson(truncatedStream()) + SSE_DONE));
    return Buffer.concat(parts);
  }

  #takePendingUsageChunk(): string | undefined {
    const owed = this.#pendingUsageChunk;
    this.#pendingUsageChunk = undefined;
    return owed !== undefined && this.context.clientWantsUsage ? owed : undefined;
  }

  /** Returns the event's own bytes to keep it, other bytes to replace it, or undefined to drop it. */
  #translate(event: SseEvent): Buffer | undefined {
    if (this.#pendingUsageChunk !== undefined && isDone(event)) {
      const owed = this.#takePendingUsageChunk();
      return owed === undefined ? event.raw : Buffer.concat([Buffer.from(owed), event.raw]);
    }
    const carriesUsage = mayCarryUsage(event);
    const repair =
      this.#quirks.repairChunks === true && (event.raw.includes('"tool_calls"') || event.raw.includes('"finish_reason":"'));
    const filterOnly = this.#quirks.dropFilterOnlyChunks === true && event.raw.includes('"prompt_filter_results"');
    if (!carriesUsage && !repair && !filterOnly) return event.raw;
    const json = parseJson(event.data);
    if (!isRecord(json)) return event.raw;
    const choices = Array.isArray(json.choices) ? json.choices : undefined;
    let rewritten = false;
    let appended: string | undefined;

    const usage = carriesUsage ? usageFromOpenAI(json.usage) : undefined;
    if (usage) {
      this.#usage = usage;
      if (choices === undefined || choices.length === 0) {
        // The standard usage-only chunk: any usage seen earlier on a choice chunk is superseded.
        this.#pendingUsageChunk = undefined;
        return this.context.clientWantsUsage ? event.raw : undefined;
      }
      // Usage on a chunk with choices (Mistral): move it to its own chunk before [DONE], as OpenAI sends it.
      this.#pendingUsageChunk = this.#usageChunk(json);
      if (this.context.clientWantsUsage) json.usage = null;
      else delete json.usage;
      rewritten = true;
    }
    if (filterOnly && choices?.length === 0 && json.usage == null) return undefined;
    if (repair && choices) {
      for (const choice of choices) {
        if (!isRecord(choice)) continue;
        if (this.#repairToolCalls(choice)) rewritten = true;
        if (typeof choice.finish_reason === 'string' && !OPENAI_FINISH_REASONS.has(choice.finish_reason)) {
          if (choice.finish_reason === FINISH_ERROR) {
            choice.finish_reason = null;
            appended = encodeSseJson(upstreamFailure(FINISH_ERROR));
          } else {
            choice.finish_reason = FINISH_ALIASES[choice.finish_reason] ?? 'stop';
          }
          rewritten = true;
        }
      }
    }
    if (!rewritten) return event.raw;
    return Buffer.from(encodeSseJson(json) + (appended ?? ''));
  }

  #usageChunk(json: Record<string, unknown>): string {
    const chunk: Record<string, unknown> = { id: json.id, object: 'chat.completion.chunk', created: json.created, model: json.model };
    if (json.system_fingerprint !== undefined) chunk.system_fingerprint = json.system_fingerprint;
    chunk.choices = [];
    chunk.usage = json.usage;
    return encodeSseJson(chunk);
  }

  /** Gives tool-call deltas the `index` (and first deltas the `type`) OpenAI clients need. True when changed. */
  #repairToolCalls(choice: Record<string, unknown>): boolean {
    const delta = choice.delta;
    if (!isRecord(delta) || !Array.isArray(delta.tool_calls)) return false;
    const choiceIndex = typeof choice.index === 'number' ? choice.index : 0;
    let state = this.#toolCalls.get(choiceIndex);
    if (!state) {
      state = { byId: new Map(), last: -1 };
      this.#toolCalls.set(choiceIndex, state);
    }
    let changed = false;
    for (const call of delta.tool_calls) {
      if (!isRecord(call)) continue;
      const id = typeof call.id === 'string' && call.id !== '' ? call.id : undefined;
      if (typeof call.index === 'number') {
        if (id !== undefined) state.byId.set(id, call.index);
        state.last = call.index;
      } else {
        // A new id is the next tool call; a fragment without an id continues the current one.
        let index = Math.max(state.last, 0);
        if (id !== undefined) {
          index = state.byId.get(id) ?? state.last + 1;
          state.byId.set(id, index);
        }
        state.last = index;
        call.index = index;
        changed = true;
      }
      if (id !== undefined && call.type === undefined) {
        call.type = 'function';
        changed = true;
      }
    }
    return changed;
  }
}

export function createOpenAIStreamTranslator(context: ResponseContext, quirks?: OpenAIStreamQuirks): StreamTranslator {
  return new OpenAIStreamTranslator(context, quirks);
}

/** A Provider for one OpenAI-shaped backend kind. */
export function createOpenAIProvider(flavour: OpenAIFlavour): Provider {
  return {
    checkRequest: (request, backend) => flavour.checkRequest?.(request, backend),
    buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest {
      const base = openAIRequestBody(request, target.upstreamModel);
      const body = flavour.adjustBody ? flavour.adjustBody(base, target) : base;
      return {
        path: flavour.path(target),
        headers: { 'content-type': 'application/json', ...credentialHeaders(target) },
        body: Buffer.from(JSON.stringify(body)),
      };
    },
    isStream: (contentType) => contentType.startsWith('text/event-stream'),
    translateResponse: (status, body) => translateWholeBody(status, body, flavour),
    createStreamTranslator: (context) => new OpenAIStreamTranslator(context, flavour.stream),
  };
}

export const openAIProvider: Provider = createOpenAIProvider({
  path: (target) => joinPath(target.backend.baseUrl, '/chat/completions'),
});
