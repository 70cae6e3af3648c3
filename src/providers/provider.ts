// One small interface per provider schema. Translators are pure (data in, data out); the ext_proc stages do
// the I/O. The unified side is always OpenAI Chat Completions.
import type { ResolvedBackend } from '../config/topology.js';
import type { AttemptCredentials } from '../credentials/types.js';
import type { ChatRequest } from '../unified/chat-request.js';
import type { Usage } from '../unified/usage.js';

/** What the upstream stage needs to rewrite one attempt for a chosen backend. */
export interface UpstreamTarget {
  readonly backend: ResolvedBackend;
  /** Model name this backend expects. */
  readonly upstreamModel: string;
  /** Wall clock for signatures (SigV4); injected so translation stays pure and testable. */
  readonly now: Date;
  /** The attempt's credentials, resolved by src/credentials (env, token files): translators read no env or file. */
  readonly credentials: AttemptCredentials;
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
  /** Status the client should see when it differs from the upstream's (e.g. Anthropic 529 overloaded → 503). */
  readonly status?: number;
  /** Response headers to set (e.g. retry-after derived from a provider field). */
  readonly headers?: Readonly<Record<string, string>>;
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
  /** The unified request as the client sent it (model alias, stream options, tools, response_format…). */
  readonly request: ChatRequest;
  /** The client asked for the final usage chunk (stream_options.include_usage). */
  readonly clientWantsUsage: boolean;
  /** Envoy's request id, for ids of synthesised objects. */
  readonly requestId: string | undefined;
  /** Unix seconds for `created` in synthesised objects. */
  readonly created: number;
  /** The model name the answering backend was sent (the route endpoint's upstream model), when known. */
  readonly upstreamModel?: string;
}

/**
 * The `model` every response reports, for every provider: the model that answered, as the provider names it
 * (OpenAI's dated snapshot, Anthropic's `model`, Gemini's `modelVersion`); where the provider's format names none
 * (Bedrock, Cohere) the upstream model name the gateway sent; the client's alias only when neither is known.
 * OpenAI-shaped backends pass their `model` through untouched, so their streams stay zero-copy.
 */
export function responseModel(context: ResponseContext, reported?: unknown): string {
  if (typeof reported === 'string' && reported !== '') return reported;
  return context.upstreamModel ?? context.request.model;
}

export interface Provider {
  /**
   * Headers buildRequest may set beyond the backend's key header and static headers. Envoy hands a retry the
   * header map the previous attempt's rewrite left, so an attempt for another backend removes these.
   */
  readonly requestHeaders?: readonly string[];
  /**
   * Router stage: throws a 400 UnifiedError naming a feature this provider cannot honour (never a silent drop).
   * Called for every provider of the route's usable backends before anything leaves.
   */
  checkRequest(request: ChatRequest, backend: ResolvedBackend, upstreamModel?: string): void;
  /** Upstream stage: the provider-native request for one attempt. */
  buildRequest(request: ChatRequest, target: UpstreamTarget): UpstreamRequest;
  /** Router stage: whether a 2xx response with this content-type is a stream to translate chunk by chunk. */
  isStream(contentType: string): boolean;
  translateResponse(status: number, body: Buffer, context: ResponseContext): TranslatedBody;
  createStreamTranslator(context: ResponseContext): StreamTranslator;
}
