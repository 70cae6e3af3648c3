// One small interface per provider schema. Translators are pure (data in, data out); the ext_proc stages do
// the I/O. The unified side is always OpenAI Chat Completions.
import type { ResolvedBackend } from '../config/topology.js';
import type { ChatRequest } from '../unified/chat-request.js';
import type { Usage } from '../unified/usage.js';

/** What the upstream stage needs to rewrite one attempt for a chosen backend. */
export interface UpstreamTarget {
  readonly backend: ResolvedBackend;
  /** Model name this backend expects. */
  readonly upstreamModel: string;
}

export interface UpstreamRequest {
  /** Full request path incl. query, e.g. /v1/chat/completions. */
  readonly path: string;
  /** Headers to set (lower-case names). Credentials included: never log this object. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** The result of translating a whole (non-streamed) response body. */
export interface TranslatedBody {
  /** The unified body, or undefined when the provider bytes are already unified and pass through untouched. */
  readonly body: Buffer | undefined;
  readonly usage: Usage | undefined;
}

/** Per-response streaming state; push() is fed Envoy's chunks in order, with arbitrary boundaries. */
export interface StreamTranslator {
  /** Returns the unified bytes for this chunk, or undefined to pass the chunk through untouched. */
  push(chunk: Buffer): Buffer | undefined;
  /** Called once at end of stream; returns the bytes still owed to the client (possibly empty). */
  end(): Buffer;
  /** Usage seen so far (provider-reported). */
  readonly usage: Usage | undefined;
}

export interface ResponseContext {
  /** The client asked for the final usage chunk (stream_options.include_usage). */
  readonly clientWantsUsage: boolean;
}

export interface Provider {
  buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest;
  translateResponse(status: number, body: Buffer, context: ResponseContext): TranslatedBody;
  createStreamTranslator(context: ResponseContext): StreamTranslator;
}
