// Router-level stage: once per client request. Validates the unified request, picks the model's route, and on
// the way back translates the provider's response into the unified format, extracting usage.
import type { ConfigSnapshot } from '../config/store.js';
import { usableEndpoints, type ResolvedRoute } from '../config/topology.js';
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { HttpHeaders__Output } from '../generated/envoy/service/ext_proc/v3/HttpHeaders.js';
import type { HttpBody__Output } from '../generated/envoy/service/ext_proc/v3/HttpBody.js';
import { normaliseErrorBody } from '../unified/errors.js';
import type { ResponseContext, StreamTranslator, TranslatedBody } from '../providers/provider.js';
import { providerFor } from '../providers/registry.js';
import { applyParamPolicy } from '../providers/param-policy.js';
import { clientWantsStreamUsage, parseChatRequest, type ChatRequest } from '../unified/chat-request.js';
import {
  UnifiedError,
  asUnifiedError,
  withRequestId,
  withRequestIdInJson,
  type ErrorReply,
  type Reply,
} from '../unified/errors.js';
import type { Usage } from '../unified/usage.js';
import { errorMessage, log } from '../telemetry/log.js';
import { metrics, statusClass } from '../telemetry/metrics.js';
import {
  BACKEND_HEADER,
  EXT_PROC_FILTER_NAME,
  METADATA_NAMESPACE,
  PRINCIPAL_ATTRIBUTE,
  REQUEST_ID_HEADER,
  ROUTE_HEADER,
  UPSTREAM_AUTH_HEADER,
} from './contract.js';
import { BudgetGate, type Accounting } from './budget-gate.js';
import type { IdentityInput } from '../budget/identity.js';
import { continueWith, dynamicMetadata, immediateResponse, readHeaders, stringAttribute } from './messages.js';
import type { StageHandler, StreamEnd } from './stage.js';
import { StreamCompletion } from './stream-completion.js';
import { healthTap, type RequestHealth } from '../health/tap.js';
import { countPromptTokens, countText } from '../tokens/counter.js';
import { isRecord, parseJson } from '../util/json.js';
import { jsonTextExceedsDepth, MAX_RESPONSE_JSON_DEPTH } from '../util/json-depth.js';

const CHAT_PATHS = new Set(['/v1/chat/completions', '/chat/completions']);
const MODELS_PATHS = new Set(['/v1/models', '/models']);
const REQUEST_HEADERS_READ = [':method', ':path', REQUEST_ID_HEADER, 'authorization'];
const RESPONSE_HEADERS_READ = [':status', 'content-type', 'content-encoding', BACKEND_HEADER, UPSTREAM_AUTH_HEADER];

/** Why a 2xx upstream body could not be read (llm_extproc_upstream_invalid_responses_total{reason}). */
type InvalidReason = 'invalid_json' | 'too_deep' | 'compressed' | 'empty';

/** Tokens of a text for `model`; a character estimate (4 per token) while the tokenizers are not loaded. */
function countOrEstimate(model: string, text: string): number {
  try {
    return countText(model, text);
  } catch {
    return Math.ceil(text.length / 4);
  }
}

type State = 'request_headers' | 'request_body' | 'response_headers' | 'response_body' | 'done';

export class RouterStage implements StageHandler {
  #state: State = 'request_headers';
  #requestId: string | undefined;
  #model = 'unknown';
  #backend: string | undefined;
  #status = 0;
  #clientWantsUsage = false;
  #request: ChatRequest | undefined;
  #translator: StreamCompletion | undefined;
  /** A 2xx whose content-encoding is not identity although every attempt asks for identity. */
  #compressed = false;
  /** The provider's status when it rejected the gateway's own credentials (the upstream stage made it a 502). */
  #upstreamAuth: string | undefined;
  #bodyChunks: Buffer[] = [];
  #bodyBytes = 0;
  /** Semantic health observation of this exchange (src/health/), when a monitor is installed. */
  #health: RequestHealth | undefined;

  #identity: IdentityInput = {};
  #gate: BudgetGate | undefined;
  /** The stream ended; a reservation that completes after this must be released at once. */
  #closed = false;

  constructor(
    private readonly snapshot: ConfigSnapshot,
    /** Present when the config has budgets: requests are then identified, counted and reserved. */
    private readonly accounting?: Accounting,
  ) {}

  handle(message: ProcessingRequest__Output): ProcessingResponse | Promise<ProcessingResponse> {
    switch (message.request) {
      case 'request_headers':
        return this.#guard(() => this.#onRequestHeaders(message));
      case 'request_body':
        return this.#guard(() => this.#onRequestBody(message.request_body));
      case 'response_headers':
        return this.#onResponseHeaders(message.response_headers);
      case 'response_body':
        return this.#onResponseBody(message.response_body);
      case 'request_trailers':
        return { request_trailers: {} };
      case 'response_trailers':
        return { response_trailers: {} };
      default:
        throw new Error(`unexpected ext_proc message ${String(message.request)}`);
    }
  }

  close(how: StreamEnd): void {
    this.#closed = true;
    if (this.#state !== 'done') {
      // Once routed, the provider has the prompt and bills it even if the client leaves before the answer.
      // A stream is charged what was streamed so far (counted with the tokenizer when the provider's usage has not arrived).
      this.#gate?.abandon(
        this.#state === 'response_headers' || this.#state === 'response_body',
        this.#translator?.usageSoFar(),
      );
      this.#health?.cut();
      // A clean end before the exchange finished means the exchange was abandoned (e.g. the client left).
      metrics.streamFailures.inc({ stage: 'router', reason: how === 'ended' ? 'abandoned' : how });
      log.debug('router stream ended early', { requestId: this.#requestId, state: this.#state, how });
    }
  }

  /** Request-phase failures become OpenAI-shaped immediate responses; nothing reaches a provider. */
  #guard(
    step: () => ProcessingResponse | Promise<ProcessingResponse>,
  ): ProcessingResponse | Promise<ProcessingResponse> {
    const fail = (err: unknown) => {
      const error = asUnifiedError(err);
      if (error.kind === 'internal')
        log.error('router stage failed', { requestId: this.#requestId, error: errorMessage(err) });
      return this.#reject(error);
    };
    try {
      const result = step();
      return result instanceof Promise ? result.catch(fail) : result;
    } catch (err) {
      return fail(err);
    }
  }

  #reject(error: UnifiedError): ProcessingResponse {
    metrics.localErrors.inc({ code: error.code });
    return this.#refuse(error.toReply());
  }

  /** Errors and budget refusals (401, 429, 503, with their rate-limit headers): counted, and marked in metadata. */
  #refuse(refusal: ErrorReply): ProcessingResponse {
    metrics.requests.inc({ model: this.#model, backend: 'none', status_class: statusClass(refusal.status) });
    const code = refusal.body.error.code ?? 'refused';
    return {
      ...this.#reply({ ...refusal, body: withRequestId(refusal.body, this.#requestId) }, `llm_extproc_${code}`),
      dynamic_metadata: dynamicMetadata(METADATA_NAMESPACE, {
        model: this.#model,
        error: code,
        status: refusal.status,
      }),
    };
  }

  /** The one way an answer leaves without reaching a provider: an immediate response carrying the request id. */
  #reply(reply: Reply, details: string): ProcessingResponse {
    this.#state = 'done';
    const headers: Record<string, string> = { ...reply.headers, 'content-type': 'application/json' };
    if (this.#requestId) headers[REQUEST_ID_HEADER] = this.#requestId;
    return immediateResponse(reply.status, headers, Buffer.from(JSON.stringify(reply.body)), details);
  }

  #onRequestHeaders(request: ProcessingRequest__Output): ProcessingResponse {
    const message = request.request_headers;
    const tenantHeader = this.accounting?.config.trustedTenantHeader?.name;
    const headers = readHeaders(
      message?.headers,
      tenantHeader ? [...REQUEST_HEADERS_READ, tenantHeader] : REQUEST_HEADERS_READ,
    );
    this.#requestId = headers.get(REQUEST_ID_HEADER);
    if (this.accounting) {
      this.#identity = {
        authorization: headers.get('authorization'),
        principal: stringAttribute(request.attributes, EXT_PROC_FILTER_NAME, PRINCIPAL_ATTRIBUTE) || undefined,
        tenantHeader: tenantHeader ? headers.get(tenantHeader) : undefined,
      };
    }
    const method = headers.get(':method') ?? '';
    const path = (headers.get(':path') ?? '').split('?')[0] ?? '';
    if (method === 'GET' && MODELS_PATHS.has(path)) return this.#listModels();
    if (!CHAT_PATHS.has(path) || method !== 'POST') {
      throw new UnifiedError('unknown_endpoint', `Invalid URL (${method} ${path}).`);
    }
    if (message?.end_of_stream)
      throw new UnifiedError('invalid_request', 'The request has no body; send a JSON chat completion request.');
    this.#state = 'request_body';
    return continueWith('request_headers');
  }

  #listModels(): ProcessingResponse {
    const created = Math.floor(Date.now() / 1000);
    const data = [...this.snapshot.topology.routes.keys()].map((id) => ({
      id,
      object: 'model',
      created,
      owned_by: 'llm-extproc',
    }));
    return this.#reply({ status: 200, headers: {}, body: { object: 'list', data } }, 'llm_extproc_models');
  }

  #onRequestBody(message: HttpBody__Output | undefined): ProcessingResponse | Promise<ProcessingResponse> {
    const chunk = message?.body ?? Buffer.alloc(0);
    this.#bodyBytes += chunk.length;
    const limit = this.snapshot.config.limits.maxRequestBodyBytes;
    if (this.#bodyBytes > limit) {
      throw new UnifiedError(
        'request_too_large',
        `The request body is ${this.#bodyBytes} bytes; the limit is ${limit} bytes.`,
      );
    }
    this.#bodyChunks.push(chunk);
    // BUFFERED mode sends the body in one message; other modes are tolerated by waiting for the last chunk.
    if (!message?.end_of_stream) return continueWith('request_body');
    const body = this.#bodyChunks.length === 1 ? chunk : Buffer.concat(this.#bodyChunks);
    this.#bodyChunks = [];

    const request = parseChatRequest(body);
    this.#model = request.model;
    const route = this.snapshot.topology.routes.get(request.model);
    if (!route) {
      this.#model = 'unknown'; // unbounded client input never becomes a metric label
      throw new UnifiedError(
        'model_not_found',
        `The model '${request.model}' does not exist or you do not have access to it.`,
        'model',
      );
    }
    const usable = usableEndpoints(route);
    if (usable.length === 0) {
      // The detail (which variables are unset) is for operators: the log and the admin GET /backends. The client,
      // unauthenticated, gets a generic message with the request id.
      const reasons = route.endpoints.map(
        (e) => `backend '${e.backend.name}': ${e.backend.disabledReason ?? 'unavailable'}`,
      );
      log.warn('no usable backend for model', {
        requestId: this.#requestId,
        model: request.model,
        reasons: reasons.join('; '),
      });
      throw new UnifiedError(
        'no_backend',
        `No backend is currently available for model '${request.model}'. The gateway operator can see why in its log and admin /backends.`,
      );
    }
    // Any usable backend may serve this request (failover), so every one must be able to honour it.
    // A backend with unsupportedParams: drop accepts what it can drop (the upstream stage drops it per attempt).
    for (const endpoint of usable) {
      applyParamPolicy(
        providerFor(endpoint.backend.provider),
        request,
        endpoint.backend,
        endpoint.upstreamModel,
        endpoint.unsupportedParams,
      );
    }
    this.#request = request;
    this.#clientWantsUsage = clientWantsStreamUsage(request);
    if (!this.accounting) return this.#routeTo(route, request);
    return BudgetGate.open(this.accounting, this.#identity, request, route, usable).then((outcome) => {
      if (!outcome.ok) return this.#refuse(outcome.refusal);
      // The client may have left while the store answered: nothing will be sent, so nothing stays reserved.
      if (this.#closed) outcome.gate.abandon(false, undefined);
      this.#gate = outcome.gate;
      return this.#routeTo(route, request);
    });
  }

  #routeTo(route: ResolvedRoute, request: ChatRequest): ProcessingResponse {
    this.#state = 'response_headers';
    this.#health = healthTap.begin(request);
    return continueWith(
      'request_body',
      // clear_route_cache only works when the same response carries a header mutation (Envoy rule).
      { headers: { set: { [ROUTE_HEADER]: route.cluster } }, clearRouteCache: true },
      {
        dynamic_metadata: dynamicMetadata(METADATA_NAMESPACE, {
          model: request.model,
          route: route.cluster,
          stream: request.stream === true,
          budget_subject: this.#gate?.subject,
          prompt_tokens_counted: this.#gate?.prompt.tokens,
        }),
      },
    );
  }

  #onResponseHeaders(message: HttpHeaders__Output | undefined): ProcessingResponse {
    const headers = readHeaders(message?.headers, RESPONSE_HEADERS_READ);
    this.#status = Number(headers.get(':status') ?? 0);
    const tagged = headers.get(BACKEND_HEADER);
    // Only names from our topology are trusted (they become metric labels and pick the translator).
    this.#backend = tagged !== undefined && this.snapshot.topology.backends.has(tagged) ? tagged : undefined;
    // OpenAI's x-ratelimit-* headers ride on successful responses too.
    const rateHeaders = this.#gate?.headers ?? {};
    this.#upstreamAuth = this.#backend !== undefined ? headers.get(UPSTREAM_AUTH_HEADER) : undefined;
    this.#health?.response(this.#backend, this.#status);
    // Every error a client sees carries the request id: in x-request-id here, in the message with the body.
    const errorHeaders: Record<string, string> =
      this.#status >= 400 && this.#requestId ? { [REQUEST_ID_HEADER]: this.#requestId } : {};
    // The client learns which backend served it (only a name from our topology); a forged or unknown tag is removed.
    const served: Record<string, string> = this.#backend === undefined ? {} : { [BACKEND_HEADER]: this.#backend };
    // A known tag is already on the response as the upstream stage set it (overwriting any the provider sent), and
    // the upstream stage removes a provider's x-llm-extproc-upstream-auth: nothing to send back for either then.
    const untag =
      tagged === undefined
        ? []
        : this.#backend === undefined
          ? [BACKEND_HEADER, UPSTREAM_AUTH_HEADER]
          : this.#upstreamAuth !== undefined
            ? [UPSTREAM_AUTH_HEADER]
            : [];
    const changes =
      untag.length === 0 && Object.keys(rateHeaders).length === 0 && Object.keys(errorHeaders).length === 0
        ? undefined
        : { headers: { set: { ...rateHeaders, ...errorHeaders }, remove: untag } };
    if (message?.end_of_stream) {
      if (this.#providerKind() && this.#status >= 200 && this.#status < 300)
        return this.#emptySuccess(errorHeaders, served, changes?.headers.remove ?? []);
      this.#finish(undefined);
      const metadata = { dynamic_metadata: this.#resultMetadata(undefined) };
      if (this.#status < 400) return continueWith('response_headers', changes, metadata);
      // An error without a body (e.g. Envoy's 500 after the upstream stage failed) still gets the unified shape.
      const body = Buffer.from(JSON.stringify(this.#bodylessError().toBody(this.#requestId)));
      const set = {
        ...errorHeaders,
        ...served,
        'content-type': 'application/json',
        'content-length': String(body.length),
      };
      return continueWith(
        'response_headers',
        { headers: { set, remove: changes?.headers.remove ?? [] }, body, replace: true },
        metadata,
      );
    }
    this.#state = 'response_body';
    const contentType = headers.get('content-type') ?? '';
    const provider = this.#providerKind();
    const encoding = (headers.get('content-encoding') ?? '').trim().toLowerCase();
    // Every attempt asks for identity; a compressed 2xx cannot be read or translated (whole-body path: a 502).
    this.#compressed =
      provider !== undefined && this.#status >= 200 && this.#status < 300 && encoding !== '' && encoding !== 'identity';
    if (this.#status === 200 && provider && !this.#compressed && providerFor(provider).isStream(contentType)) {
      this.#translator = this.#completing(providerFor(provider).createStreamTranslator(this.#responseContext()));
      // Stream the body chunk by chunk instead of buffering it (requires allow_mode_override in Envoy). Envoy
      // strips content-length by the mode in force when headers pass, not the override, and chunks may be
      // re-cut, so drop it here.
      const remove = [...untag, 'content-length'];
      // Providers with binary streams (Bedrock) are translated to SSE: the client must see SSE's content-type.
      const set: Record<string, string> = contentType.startsWith('text/event-stream')
        ? { ...rateHeaders }
        : { ...rateHeaders, 'content-type': 'text/event-stream' };
      return continueWith(
        'response_headers',
        { headers: { set, remove } },
        { mode_override: { response_body_mode: 'STREAMED' } },
      );
    }
    return continueWith('response_headers', changes);
  }

  /** Every provider's stream gets its finish reasons, the usage chunk it owes and a count of what it streamed. */
  #completing(inner: StreamTranslator): StreamCompletion {
    const request = this.#request;
    const model = this.#answeringModel();
    return new StreamCompletion(inner, {
      requestId: this.#requestId,
      choices: request?.n ?? 1,
      clientWantsUsage: this.#clientWantsUsage,
      promptTokens: () => {
        if (this.#gate) return this.#gate.prompt.tokens;
        if (!request) return 0;
        try {
          return countPromptTokens(request, { model }).tokens;
        } catch {
          return Math.ceil(JSON.stringify(request.messages).length / 4);
        }
      },
      countCompletion: (text) => countOrEstimate(model, text),
    });
  }

  /** The model name the answering backend was sent (its tokenizer counts the completion). */
  #answeringModel(): string {
    const route = this.#request ? this.snapshot.topology.routes.get(this.#request.model) : undefined;
    return route?.endpoints.find((e) => e.backend.name === this.#backend)?.upstreamModel ?? this.#model;
  }

  /** A 2xx body that is not what the provider's format promises, or undefined when it is readable. */
  #unreadable(body: Buffer): InvalidReason | undefined {
    if (this.#compressed) return 'compressed';
    // Parsing is safe at any depth, but re-serialising and walking are not.
    if (jsonTextExceedsDepth(body, MAX_RESPONSE_JSON_DEPTH)) return 'too_deep';
    return isRecord(parseJson(body)) ? undefined : 'invalid_json';
  }

  /** Envoy's own 413 (a body over per_connection_buffer_limit_bytes): the error the README promises. */
  #tooLarge(): UnifiedError {
    const limit = this.snapshot.config.dataPlane.bufferLimitBytes;
    return new UnifiedError(
      'request_too_large',
      `The request body is larger than the gateway accepts (${limit} bytes).`,
    );
  }

  /** A provider's 401/403 for the gateway's own key: a gateway error (502), never the client's 401. */
  #authError(): UnifiedError {
    return new UnifiedError(
      'upstream_auth',
      `Backend '${this.#backend ?? 'unknown'}' rejected the gateway's credentials (HTTP ${this.#upstreamAuth ?? '401'}); the gateway operator must fix its provider key.`,
    );
  }

  /** Appends the request id to an error body's message (OpenAI shape) unless it already carries it. */
  #withRequestId(translated: TranslatedBody, original: Buffer): TranslatedBody {
    const requestId = this.#requestId;
    if (!requestId) return translated;
    const named = withRequestIdInJson(parseJson(translated.body ?? original), requestId);
    return named ? { ...translated, body: Buffer.from(JSON.stringify(named)) } : translated;
  }

  #bodylessError(): UnifiedError {
    if (this.#upstreamAuth !== undefined) return this.#authError();
    if (this.#backend === undefined && this.#status === 413) return this.#tooLarge();
    const message = this.#backend
      ? `Backend '${this.#backend}' answered HTTP ${this.#status} without a body.`
      : `The request failed before any backend answered (HTTP ${this.#status}).`;
    const kind = this.#status >= 500 ? 'upstream_error' : 'invalid_request';
    return new UnifiedError(kind, message, null, this.#status);
  }

  #providerKind() {
    return this.#backend === undefined ? undefined : this.snapshot.topology.backends.get(this.#backend)?.provider;
  }

  #onResponseBody(message: HttpBody__Output | undefined): ProcessingResponse {
    const chunk = message?.body ?? Buffer.alloc(0);
    const last = message?.end_of_stream === true;
    try {
      return this.#translator ? this.#streamChunk(this.#translator, chunk, last) : this.#wholeBody(chunk, last);
    } catch (err) {
      // A translation bug must not break the client's response: pass the bytes through and record it.
      log.error('response translation failed; passing bytes through', {
        requestId: this.#requestId,
        error: errorMessage(err),
      });
      metrics.streamFailures.inc({ stage: 'router', reason: 'translation' });
      if (last) this.#finish(this.#translator?.usage);
      return continueWith('response_body');
    }
  }

  #streamChunk(translator: StreamCompletion, chunk: Buffer, last: boolean): ProcessingResponse {
    let out = translator.push(chunk);
    this.#health?.chunk(out ?? chunk);
    if (!last) return continueWith('response_body', out === undefined ? {} : { body: out });
    const tail = translator.end();
    if (tail.length > 0) out = Buffer.concat([out ?? chunk, tail]);
    const usage = translator.usage;
    const estimated = translator.estimated;
    this.#health?.end(usage?.completionTokens);
    if (estimated) metrics.usageMissing.inc();
    this.#finish(usage, estimated ? 'estimated' : 'reported');
    const extra: Record<string, boolean> = estimated ? { usage_estimated: true } : {};
    return continueWith('response_body', out === undefined ? {} : { body: out }, {
      dynamic_metadata: this.#resultMetadata(usage, extra),
    });
  }

  /** A provider's 2xx without a body: the most basic unreadable answer, the same 502 as any other, and a verdict. */
  #emptySuccess(
    errorHeaders: Record<string, string>,
    served: Record<string, string>,
    remove: string[],
  ): ProcessingResponse {
    metrics.upstreamInvalid.inc({ backend: this.#backend ?? 'none', reason: 'empty' satisfies InvalidReason });
    metrics.usageMissing.inc();
    const error = new UnifiedError(
      'upstream_invalid_response',
      `Backend '${this.#backend ?? 'unknown'}' answered HTTP ${this.#status} without a body.`,
    );
    this.#health?.whole(Buffer.alloc(0), 200);
    this.#status = error.status;
    this.#finish(undefined, 'unreadable');
    const body = Buffer.from(JSON.stringify(error.toBody(this.#requestId)));
    const set: Record<string, string> = {
      ...errorHeaders,
      ...served,
      ':status': String(error.status),
      'content-type': 'application/json',
      'content-length': String(body.length),
      ...(this.#requestId ? { [REQUEST_ID_HEADER]: this.#requestId } : {}),
    };
    const metadata = { dynamic_metadata: this.#resultMetadata(undefined, { usage_missing: true, error: error.code }) };
    return continueWith('response_headers', { headers: { set, remove }, body, replace: true }, metadata);
  }

  #wholeBody(chunk: Buffer, last: boolean): ProcessingResponse {
    this.#bodyChunks.push(chunk);
    if (!last) return continueWith('response_body');
    const body = this.#bodyChunks.length === 1 ? chunk : Buffer.concat(this.#bodyChunks);
    this.#bodyChunks = [];
    const provider = this.#providerKind();
    let translated: TranslatedBody = { body: undefined, usage: undefined };
    const invalid = provider && this.#status >= 200 && this.#status < 300 ? this.#unreadable(body) : undefined;
    let extra: Record<string, string | boolean> = {};
    if (invalid) {
      // The same answer for every provider: a 502 the client can act on, usage marked missing, a metric.
      metrics.upstreamInvalid.inc({ backend: this.#backend ?? 'none', reason: invalid });
      metrics.usageMissing.inc();
      const what =
        invalid === 'compressed'
          ? 'a compressed body although identity was asked'
          : invalid === 'too_deep'
            ? 'JSON nested too deeply'
            : 'a body that is not a JSON object';
      const error = new UnifiedError(
        'upstream_invalid_response',
        `Backend '${this.#backend ?? 'unknown'}' answered HTTP ${this.#status} with ${what}.`,
      );
      translated = {
        body: Buffer.from(JSON.stringify(error.toBody(this.#requestId))),
        usage: undefined,
        status: error.status,
      };
      extra = { usage_missing: true, error: error.code };
    } else if (this.#upstreamAuth !== undefined) {
      // The provider's own 401/403 body would blame the client; the status is already the upstream stage's 502.
      translated = { body: Buffer.from(JSON.stringify(this.#authError().toBody(undefined))), usage: undefined };
    } else if (provider) {
      translated = providerFor(provider).translateResponse(this.#status, body, this.#responseContext());
    } else if (this.#status === 413) {
      translated = { body: Buffer.from(JSON.stringify(this.#tooLarge().toBody(this.#requestId))), usage: undefined };
    } else if (this.#status >= 400) {
      // No provider answered: this is Envoy's own local reply (e.g. "no healthy upstream"). Keep the error shape uniform.
      translated = { body: normaliseErrorBody(this.#status, body), usage: undefined };
    }
    if (translated.status !== undefined) this.#status = translated.status;
    if (this.#status >= 400) translated = this.#withRequestId(translated, body);
    // An unreadable 2xx (the client gets a 502) is an error_payload verdict for the backend.
    this.#health?.whole(invalid ? body : (translated.body ?? body), invalid ? 200 : this.#status);
    this.#finish(translated.usage, invalid ? 'unreadable' : 'reported');
    const metadata = { dynamic_metadata: this.#resultMetadata(translated.usage, extra) };
    const set: Record<string, string> = { ...translated.headers };
    if (translated.status !== undefined) set[':status'] = String(translated.status);
    if (this.#status >= 400 && this.#requestId) set[REQUEST_ID_HEADER] = this.#requestId;
    if (translated.body !== undefined) {
      // BUFFERED with header mode SEND: Envoy keeps content-length and rejects a mismatch, so set it.
      set['content-length'] = String(translated.body.length);
      set['content-type'] = 'application/json';
    }
    if (Object.keys(set).length === 0) return continueWith('response_body', {}, metadata);
    // A body we wrote is plain JSON, whatever encoding the upstream's was.
    const remove = translated.body !== undefined ? ['content-encoding'] : [];
    return continueWith(
      'response_body',
      { headers: { set, remove }, ...(translated.body ? { body: translated.body } : {}) },
      metadata,
    );
  }

  #responseContext(): ResponseContext {
    // The router stage only reaches the response phase after a request passed validation.
    if (!this.#request) throw new Error('response before a validated request');
    return {
      request: this.#request,
      clientWantsUsage: this.#clientWantsUsage,
      requestId: this.#requestId,
      created: Math.floor(Date.now() / 1000),
      upstreamModel: this.#answeringModel(),
    };
  }

  /** Sent once, with the last response of the exchange: who served it and what it cost. */
  #resultMetadata(usage: Usage | undefined, extra: Readonly<Record<string, string | boolean>> = {}) {
    return dynamicMetadata(METADATA_NAMESPACE, {
      ...extra,
      backend: this.#backend ?? 'none',
      health_verdict: this.#health?.verdict,
      status: this.#status,
      prompt_tokens: usage?.promptTokens,
      completion_tokens: usage?.completionTokens,
      total_tokens: usage?.totalTokens,
      cached_prompt_tokens: usage?.cachedPromptTokens,
      reasoning_tokens: usage?.reasoningTokens,
      cost_usd: usage && this.#gate ? this.#gate.costUsd(usage) : undefined,
    });
  }

  #finish(usage: Usage | undefined, source: 'reported' | 'estimated' | 'unreadable' = 'reported'): void {
    this.#state = 'done';
    const backend = this.#backend ?? 'none';
    metrics.requests.inc({ model: this.#model, backend, status_class: statusClass(this.#status) });
    if (usage) {
      metrics.tokens.inc({ model: this.#model, backend, kind: 'prompt' }, usage.promptTokens);
      metrics.tokens.inc({ model: this.#model, backend, kind: 'completion' }, usage.completionTokens);
      if (usage.cachedPromptTokens)
        metrics.tokens.inc({ model: this.#model, backend, kind: 'cached_prompt' }, usage.cachedPromptTokens);
      if (usage.reasoningTokens)
        metrics.tokens.inc({ model: this.#model, backend, kind: 'reasoning' }, usage.reasoningTokens);
      if (this.#gate) metrics.costUsd.inc({ model: this.#model, backend }, this.#gate.costUsd(usage));
    }
    this.#gate?.finish(usage, this.#status, this.#backend, source);
  }
}
