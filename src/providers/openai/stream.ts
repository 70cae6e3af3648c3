// OpenAI-shaped streams: Envoy's chunks pass through byte for byte unless an event must change (the usage chunk
// the client did not ask for, a compatible server's quirks, a stream cut off before [DONE]).
import { SSE_DONE, SseDecoder, encodeSseJson, parseSseEvent, type SseEvent } from '../../unified/sse.js';
import { usageFromOpenAI, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson } from '../../util/json.js';
import type { ResponseContext, StreamTranslator } from '../provider.js';
import { truncatedStream, upstreamFailure } from './errors.js';
import { aliasedFinishReason, FINISH_ERROR, OPENAI_FINISH_REASONS } from './response.js';

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

const USAGE_KEY = Buffer.from('"usage":');
// Needles as Buffers: a string needle is converted to bytes again on every search.
const DONE_MARK = Buffer.from('[DONE]');
const TOOL_CALLS_KEY = Buffer.from('"tool_calls"');
const STRING_FINISH = Buffer.from('"finish_reason":"');
const FILTER_RESULTS_KEY = Buffer.from('"prompt_filter_results"');
const OPEN_BRACE = 0x7b;
const SPACE = 0x20;

/**
 * Byte-level pre-check so only the events that can carry usage (`"usage":{` or `"usage": {`) are decoded and
 * parsed on the hot path; one search finds both spellings.
 */
function mayCarryUsage(event: SseEvent): boolean {
  const raw = event.raw;
  for (let at = raw.indexOf(USAGE_KEY); at !== -1; at = raw.indexOf(USAGE_KEY, at + USAGE_KEY.length)) {
    const next = at + USAGE_KEY.length;
    if (raw[next] === OPEN_BRACE || (raw[next] === SPACE && raw[next + 1] === OPEN_BRACE)) return true;
  }
  return false;
}

function isDone(event: SseEvent): boolean {
  return event.raw.includes(DONE_MARK) && event.data.trim() === '[DONE]';
}

/** Per choice: which tool call each id is, for servers that send tool-call deltas without `index`. */
interface ToolCallIndexState {
  readonly byId: Map<string, number>;
  last: number;
}

export class OpenAIStreamTranslator implements StreamTranslator {
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
      this.#quirks.repairChunks === true && (event.raw.includes(TOOL_CALLS_KEY) || event.raw.includes(STRING_FINISH));
    const filterOnly = this.#quirks.dropFilterOnlyChunks === true && event.raw.includes(FILTER_RESULTS_KEY);
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
            choice.finish_reason = aliasedFinishReason(choice.finish_reason);
          }
          rewritten = true;
        }
      }
    }
    if (!rewritten) return event.raw;
    return Buffer.from(encodeSseJson(json) + (appended ?? ''));
  }

  #usageChunk(json: Record<string, unknown>): string {
    const chunk: Record<string, unknown> = {
      id: json.id,
      object: 'chat.completion.chunk',
      created: json.created,
      model: json.model,
    };
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
