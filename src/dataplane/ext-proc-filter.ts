// One ext_proc filter instance for one HTTP stream (Envoy's ext_proc Filter + its two ProcessorStates): decides
// which messages go to the processor, applies the answers to the message it holds, and turns protocol failures
// into what Envoy does (local reply, or carrying on without the processor). Transport is a ProcessStream.
import { EXT_PROC_FILTER_NAME } from '../extproc/contract.js';
import type { CommonResponse__Output } from '../generated/envoy/service/ext_proc/v3/CommonResponse.js';
import type { ProcessingRequest } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { CloseHow, ProcessStream } from './extproc-client.js';
import type { FilterSpec } from './filters.js';
import { removeHeader, toProtoHeaderMap, type HeaderList } from './headers.js';
import { immediateResponseToLocalReply, LOCAL_REPLIES, type LocalReply } from './local-reply.js';
import { mergeDynamicMetadata, type DynamicMetadata } from './metadata.js';
import { applyBodyMutation, applyHeaderMutation, contentLengthMismatch } from './mutations.js';
import {
  applyModeOverride,
  shouldRemoveContentLength,
  type BodySendMode,
  type Direction,
  type EffectiveModes,
} from './processing-mode.js';

/** What the filter holds of a request or response while it is processed. */
export interface HttpMessage {
  headers: HeaderList;
  body: Buffer;
}

export type FilterOutcome =
  | { readonly kind: 'continue' }
  | { readonly kind: 'reply'; readonly reply: LocalReply; readonly cause: 'immediate_response' | 'ext_proc_error' };

export type ChunkOutcome =
  { readonly kind: 'continue'; readonly chunk: Buffer } | Extract<FilterOutcome, { kind: 'reply' }>;

export type FilterEventLog = (event: string, fields?: Readonly<Record<string, unknown>>) => void;

type ExpectedKind = 'request_headers' | 'response_headers' | 'request_body' | 'response_body';
type Answer = { readonly kind: 'answer'; readonly common: CommonResponse__Output | undefined };

const CONTINUE: FilterOutcome = { kind: 'continue' };

function commonOf(response: ProcessingResponse__Output, kind: ExpectedKind): CommonResponse__Output | undefined {
  switch (kind) {
    case 'request_headers':
      return response.request_headers?.response;
    case 'response_headers':
      return response.response_headers?.response;
    case 'request_body':
      return response.request_body?.response;
    case 'response_body':
      return response.response_body?.response;
  }
}

export class ExtProcFilter {
  private modes: EffectiveModes;
  private complete = false;
  private routeCacheCleared = false;
  private readonly replaced: Record<Direction, boolean> = { request: false, response: false };

  constructor(
    private readonly spec: FilterSpec,
    private readonly stream: ProcessStream,
    private readonly messageTimeoutMs: number,
    private readonly log: FilterEventLog,
    /**
     * Where dynamic metadata in the receiving namespaces goes: the HTTP request's (Envoy 1.40 writes an upstream
     * filter's metadata into the downstream request's stream info too, so both stages share one map).
     */
    readonly dynamicMetadata: DynamicMetadata = new Map(),
  ) {
    this.modes = { request: { ...spec.modes.request }, response: { ...spec.modes.response } };
  }

  /** The body mode now in force for a direction (NONE once the processor is out of the picture). */
  bodyMode(direction: Direction): BodySendMode {
    return this.complete ? 'NONE' : this.modes[direction].body;
  }

  /** CONTINUE_AND_REPLACE replaced this direction's body: later body data from the peer is dropped. */
  bodyReplaced(direction: Direction): boolean {
    return this.replaced[direction];
  }

  /** Returns (and resets) whether an answer cleared the route cache. */
  takeRouteCacheCleared(): boolean {
    const cleared = this.routeCacheCleared;
    this.routeCacheCleared = false;
    return cleared;
  }

  /** Envoy's onDestroy / closeStreamMaybeGraceful() ('graceful'), or closeStream() on the error paths ('abrupt'). */
  close(how: CloseHow = 'graceful'): void {
    this.complete = true;
    this.stream.close(how);
  }

  async headers(
    direction: Direction,
    message: HttpMessage,
    endOfStream: boolean,
    attributes?: Readonly<Record<string, string>>,
  ): Promise<FilterOutcome> {
    // decode/encodeHeaders removes content-length right after handing the headers over, with the mode in force
    // at that moment (a mode_override in the answer comes too late for this).
    const removeContentLength = !this.complete && shouldRemoveContentLength(this.modes[direction]);
    if (this.complete || !this.modes[direction].sendHeaders) {
      if (removeContentLength) removeHeader(message.headers, 'content-length');
      return CONTINUE;
    }
    const kind: ExpectedKind = direction === 'request' ? 'request_headers' : 'response_headers';
    const httpHeaders = { headers: toProtoHeaderMap(message.headers), end_of_stream: endOfStream };
    const request: ProcessingRequest =
      direction === 'request' ? { request_headers: httpHeaders } : { response_headers: httpHeaders };
    if (direction === 'request' && this.spec.requestAttributes.length > 0) {
      const fields: Record<string, { stringValue: string }> = {};
      for (const expression of this.spec.requestAttributes) {
        const value = attributes?.[expression];
        if (value !== undefined) fields[expression] = { stringValue: value };
      }
      request.attributes = { [EXT_PROC_FILTER_NAME]: { fields } };
    }
    const answer = await this.roundTrip(request, kind);
    if (removeContentLength) removeHeader(message.headers, 'content-length');
    if (answer.kind !== 'answer') return answer;

    const common = answer.common;
    const replace = common?.status === 'CONTINUE_AND_REPLACE';
    if (common?.header_mutation !== undefined) {
      const result = applyHeaderMutation(message.headers, common.header_mutation, {
        replacingMessage: replace,
        removeContentLength: shouldRemoveContentLength(this.modes[direction]),
      });
      this.logIgnored(kind, result.ignored);
      if (!result.ok) return this.errorReply(500, result.error);
    }
    if (direction === 'request') this.clearRouteCache(common);
    if (replace) {
      if (common?.body_mutation !== undefined) {
        // The processor is unlikely to get content-length right for a body it invents.
        removeHeader(message.headers, 'content-length');
        this.replaced[direction] = true;
        message.body = applyBodyMutation(message.body, common.body_mutation);
      }
      // Nothing more is sent to the processor in this direction.
      this.modes[direction] = { ...this.modes[direction], body: 'NONE', sendTrailers: false };
    }
    return CONTINUE;
  }

  /** BUFFERED: the whole body in one message (end_of_stream true); headers are still held and may change. */
  async bufferedBody(direction: Direction, message: HttpMessage): Promise<FilterOutcome> {
    if (this.complete || this.replaced[direction]) return CONTINUE;
    const kind: ExpectedKind = direction === 'request' ? 'request_body' : 'response_body';
    const httpBody = { body: message.body, end_of_stream: true };
    const answer = await this.roundTrip(
      direction === 'request' ? { request_body: httpBody } : { response_body: httpBody },
      kind,
    );
    if (answer.kind !== 'answer') return answer;

    const common = answer.common;
    if (common?.header_mutation !== undefined) {
      const result = applyHeaderMutation(message.headers, common.header_mutation, {
        replacingMessage: common.status === 'CONTINUE_AND_REPLACE',
        removeContentLength: shouldRemoveContentLength(this.modes[direction]),
      });
      this.logIgnored(kind, result.ignored);
      if (!result.ok) return this.errorReply(500, result.error);
    }
    if (common?.body_mutation !== undefined) {
      const mismatch = contentLengthMismatch(message.headers, common.body_mutation);
      if (mismatch !== undefined) return this.errorReply(500, mismatch);
      message.body = applyBodyMutation(message.body, common.body_mutation);
    }
    if (direction === 'request') this.clearRouteCache(common);
    return CONTINUE;
  }

  /** STREAMED: one chunk; the answer may replace that chunk. Header mutations are ignored here. */
  async streamedChunk(direction: Direction, chunk: Buffer, endOfStream: boolean): Promise<ChunkOutcome> {
    if (this.complete || this.replaced[direction] || this.modes[direction].body !== 'STREAMED')
      return { kind: 'continue', chunk };
    const kind: ExpectedKind = direction === 'request' ? 'request_body' : 'response_body';
    const httpBody = { body: chunk, end_of_stream: endOfStream };
    const answer = await this.roundTrip(
      direction === 'request' ? { request_body: httpBody } : { response_body: httpBody },
      kind,
    );
    if (answer.kind === 'reply') return answer;
    if (answer.kind === 'continue') return { kind: 'continue', chunk };
    const common = answer.common;
    if (common?.header_mutation !== undefined)
      this.log('header_mutation_ignored', { stage: this.spec.stage, message: kind, why: 'STREAMED body response' });
    if (direction === 'request') this.clearRouteCache(common);
    return {
      kind: 'continue',
      chunk: common?.body_mutation !== undefined ? applyBodyMutation(chunk, common.body_mutation) : chunk,
    };
  }

  private async roundTrip(request: ProcessingRequest, expected: ExpectedKind): Promise<Answer | FilterOutcome> {
    const result = await this.stream.exchange(request, this.messageTimeoutMs);
    switch (result.kind) {
      case 'timeout':
        this.log('ext_proc_message_timeout', {
          stage: this.spec.stage,
          message: expected,
          timeoutMs: this.messageTimeoutMs,
        });
        return this.failure(504, 'ext_proc_error_per-message_timeout_exceeded');
      case 'error':
        this.log('ext_proc_grpc_error', {
          stage: this.spec.stage,
          message: expected,
          code: result.code,
          details: result.details,
        });
        // Envoy 1.40 puts grpc-message in the details as received (not percent-decoded; grpc-js servers encode it
        // with encodeURI) followed by the gRPC side stream's own response code details.
        return this.failure(
          500,
          `ext_proc_error_gRPC_error_${result.code}{${encodeURI(result.details)}{via_upstream}}`,
        );
      case 'closed':
        // A clean close: the rest of this stream goes on without the processor.
        this.log('ext_proc_stream_closed_by_server', { stage: this.spec.stage, message: expected });
        this.close();
        return CONTINUE;
      case 'unsolicited':
        return this.failure(500, 'spurious message');
      case 'response':
        break;
    }
    const response = result.response;
    const kind = response.response;
    if (kind === undefined) return this.failure(500, 'unhandled message');
    const dropped = mergeDynamicMetadata(
      this.dynamicMetadata,
      response.dynamic_metadata,
      this.spec.receivingNamespaces,
    );
    if (dropped.length > 0)
      this.log('dynamic_metadata_namespace_ignored', { stage: this.spec.stage, namespaces: dropped });
    const headerState = expected === 'request_headers' || expected === 'response_headers';
    if (response.mode_override !== undefined) {
      if (this.spec.allowModeOverride && headerState)
        this.modes = applyModeOverride(this.modes, response.mode_override);
      else this.log('mode_override_ignored', { stage: this.spec.stage, message: expected });
    }
    if (kind === expected) return { kind: 'answer', common: commonOf(response, expected) };
    if (kind === 'immediate_response') {
      // From an upstream filter too (Envoy 1.40): the local reply is that attempt's response (not retried).
      this.close();
      const reply = immediateResponseToLocalReply(response.immediate_response ?? {}, (what) =>
        this.log('immediate_response_adjusted', { stage: this.spec.stage, what }),
      );
      return { kind: 'reply', cause: 'immediate_response', reply };
    }
    this.log('ext_proc_spurious_message', { stage: this.spec.stage, expected, received: kind });
    return this.failure(500, 'spurious message');
  }

  /** Timeouts, gRPC errors and spurious messages obey failure_mode_allow (spurious ones since Envoy 1.35). */
  private failure(status: number, details: string): FilterOutcome {
    this.close('abrupt');
    if (this.spec.failureModeAllow) return CONTINUE;
    return { kind: 'reply', cause: 'ext_proc_error', reply: LOCAL_REPLIES.extProcError(status, details) };
  }

  /** Rejected mutations (handleErrorResponse): always a local reply. */
  private errorReply(status: number, details: string): FilterOutcome {
    this.log('ext_proc_mutation_rejected', { stage: this.spec.stage, details });
    this.close('abrupt');
    return { kind: 'reply', cause: 'ext_proc_error', reply: LOCAL_REPLIES.extProcError(status, details) };
  }

  private clearRouteCache(common: CommonResponse__Output | undefined): void {
    if (common?.clear_route_cache !== true) return;
    if (this.spec.upstream) {
      this.log('clear_route_cache_upstream_ignored', { stage: this.spec.stage });
      return;
    }
    if (common.header_mutation === undefined) {
      this.log('clear_route_cache_ignored', { stage: this.spec.stage, why: 'no header_mutation in the same response' });
      return;
    }
    this.routeCacheCleared = true;
  }

  private logIgnored(message: ExpectedKind, ignored: readonly string[]): void {
    if (ignored.length > 0) this.log('header_mutation_ignored', { stage: this.spec.stage, message, ignored });
  }
}

/**
 * A request body through a filter in its configured mode: BUFFERED in one message, STREAMED chunk by chunk (the last
 * chunk carries end_of_stream, as Envoy marks the last data frame of a body whose end it knows), NONE not at all.
 * The router-level filter gets the client's chunks; the upstream-level one, per attempt, the whole (buffered) body.
 */
export async function processRequestBody(
  filter: ExtProcFilter,
  message: HttpMessage,
  chunks: readonly Buffer[],
): Promise<FilterOutcome> {
  switch (filter.bodyMode('request')) {
    case 'BUFFERED':
    case 'BUFFERED_PARTIAL':
      return filter.bufferedBody('request', message);
    case 'STREAMED': {
      const out: Buffer[] = [];
      const pieces = chunks.length > 0 ? chunks : [Buffer.alloc(0)];
      for (const [i, chunk] of pieces.entries()) {
        const result = await filter.streamedChunk('request', chunk, i === pieces.length - 1);
        if (result.kind === 'reply') return result;
        out.push(result.chunk);
      }
      message.body = Buffer.concat(out);
      return { kind: 'continue' };
    }
    case 'NONE':
      return { kind: 'continue' };
    case 'FULL_DUPLEX_STREAMED':
    case 'GRPC':
      throw new Error(`body mode ${filter.bodyMode('request')} is not emulated`);
  }
}
