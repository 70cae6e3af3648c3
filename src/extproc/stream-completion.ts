// What every unified stream owes its client and its budget, whatever provider translated it: a finish_reason for
// every choice, the usage chunk the client asked for (estimated with the tokenizer when the provider never sent
// usage), and, when the client leaves early, a count of what was streamed so far.
//
// It wraps any provider's StreamTranslator and looks at the unified bytes the translator hands Envoy. The hot path
// only searches bytes and keeps references to the chunks; the events are parsed only when something is owed (a
// missing finish_reason, missing usage, an abandoned stream) or when more than COMPACT_BYTES are held.
import type { StreamTranslator } from '../providers/provider.js';
import { withRequestIdInJson } from '../unified/errors.js';
import { SseDecoder, encodeSseJson } from '../unified/sse.js';
import { toOpenAIUsage, type Usage } from '../unified/usage.js';
import { isRecord, parseJson } from '../util/json.js';

/** Unparsed output held before it is folded into text (bounds memory on long streams). */
const COMPACT_BYTES = 256 * 1024;

/** `"finish_reason":` followed by a string (`"…` or ` "…`): one search per chunk finds both spellings. */
const FINISH_KEY = Buffer.from('"finish_reason":');
const DONE = Buffer.from('[DONE]');
const ERROR_EVENT = Buffer.from('data: {"error"');

export interface StreamCompletionOptions {
  /** Choices the client asked for (`n`, default 1). */
  readonly choices: number;
  /** The client asked for the usage chunk (stream_options.include_usage). */
  readonly clientWantsUsage: boolean;
  /** Counted prompt tokens for an estimated usage (the budget's count, or the tokenizer's). */
  readonly promptTokens: () => number;
  /** Tokens of completion text (the answering model's tokenizer). */
  readonly countCompletion: (text: string) => number;
  /** Envoy's request id: every error event a client sees names it, like every other error. */
  readonly requestId?: string | undefined;
}

const QUOTE = 0x22;
const SPACE = 0x20;

/** Finish reasons set to a string in `buf` (a `null` one does not count). */
function finishMarkers(buf: Buffer): number {
  let count = 0;
  for (let at = buf.indexOf(FINISH_KEY); at !== -1; at = buf.indexOf(FINISH_KEY, at + FINISH_KEY.length)) {
    const next = at + FINISH_KEY.length;
    if (buf[next] === QUOTE || (buf[next] === SPACE && buf[next + 1] === QUOTE)) count++;
  }
  return count;
}

/** Index of the event carrying `[DONE]` (its `data:` line start), or -1. Content text cannot match: its newlines are escaped. */
function doneEventStart(buf: Buffer): number {
  for (let at = buf.indexOf(DONE); at !== -1; at = buf.indexOf(DONE, at + 1)) {
    let start = at;
    if (buf[start - 1] === 0x20) start--;
    if (start < 5 || buf.toString('latin1', start - 5, start) !== 'data:') continue;
    start -= 5;
    if (start === 0 || buf[start - 1] === 0x0a || buf[start - 1] === 0x0d) return start;
  }
  return -1;
}

interface Digest {
  /** Completion text streamed so far, all choices (content, refusal, reasoning, tool names and arguments). */
  text: string[];
  /** Choices that appeared in the stream; only these are owed a finish_reason. */
  seen: Set<number>;
  finished: Set<number>;
  toolCalls: Set<number>;
  head: { id: unknown; model: unknown; created: unknown; system_fingerprint?: unknown } | undefined;
}

export class StreamCompletion implements StreamTranslator {
  readonly #inner: StreamTranslator;
  readonly #options: StreamCompletionOptions;
  readonly #decoder = new SseDecoder();
  #held: Buffer[] = [];
  #heldBytes = 0;
  readonly #digest: Digest = { text: [], seen: new Set(), finished: new Set(), toolCalls: new Set(), head: undefined };
  #finishMarkers = 0;
  #errored = false;
  #complete = false;
  #estimated: Usage | undefined;

  constructor(inner: StreamTranslator, options: StreamCompletionOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  /** The provider's usage, or the estimate this stream sent/settled with when the provider sent none. */
  get usage(): Usage | undefined {
    return this.#inner.usage ?? this.#estimated;
  }

  /** True when `usage` is our estimate rather than the provider's report. */
  get estimated(): boolean {
    return this.#inner.usage === undefined && this.#estimated !== undefined;
  }

  push(chunk: Buffer): Buffer | undefined {
    const inner = this.#inner.push(chunk);
    // undefined = the chunk passes unchanged (zero copy), unless something has to be written into it.
    const produced = inner ?? chunk;
    // One search for error events serves both the request-id rewrite and the digest.
    const hasError = produced.includes(ERROR_EVENT);
    const named = this.#withRequestId(produced, hasError);
    const fixed = this.#observe(named, hasError);
    return fixed ?? (named === produced ? inner : named);
  }

  end(): Buffer {
    const ended = this.#inner.end();
    const hasError = ended.includes(ERROR_EVENT);
    const tail = this.#withRequestId(ended, hasError);
    const fixed = this.#observe(tail, hasError);
    this.#complete = true;
    if (this.#inner.usage === undefined) this.#estimated ??= this.#estimate(undefined);
    return fixed ?? tail;
  }

  /**
   * What a stream the client left is charged: the provider's prompt count (or ours) and the larger of the provider's
   * completion count so far and the tokens of the text streamed so far.
   */
  usageSoFar(): Usage {
    const reported = this.#inner.usage;
    if (this.#complete && reported) return reported;
    return this.#estimate(reported);
  }

  #estimate(reported: Usage | undefined): Usage {
    this.#fold();
    const streamed = this.#options.countCompletion(this.#digest.text.join(''));
    const promptTokens = reported?.promptTokens || this.#options.promptTokens();
    const completionTokens = Math.max(reported?.completionTokens ?? 0, streamed);
    return {
      promptTokens,
      completionTokens,
      totalTokens: promptTokens + completionTokens,
      cachedPromptTokens: reported?.cachedPromptTokens ?? 0,
      reasoningTokens: reported?.reasoningTokens ?? 0,
    };
  }

  /** Error events (rare) get the request id in their message, as every other error the client sees. */
  #withRequestId(out: Buffer, hasError: boolean): Buffer {
    const requestId = this.#options.requestId;
    if (!requestId || !hasError) return out;
    const text = out.toString('utf8').replace(/^data: (\{"error".*)$/gm, (line, json: string) => {
      const named = withRequestIdInJson(parseJson(json), requestId);
      return named ? `data: ${JSON.stringify(named)}` : line;
    });
    return Buffer.from(text);
  }

  /** Remembers the output; returns replacement bytes when something must be inserted before [DONE]. */
  #observe(out: Buffer, hasError: boolean): Buffer | undefined {
    if (out.length === 0) return undefined;
    this.#held.push(out);
    this.#heldBytes += out.length;
    this.#finishMarkers += finishMarkers(out);
    if (hasError) this.#errored = true;
    const done = doneEventStart(out);
    if (done === -1) {
      if (this.#heldBytes > COMPACT_BYTES) this.#fold();
      return undefined;
    }
    const owed = this.#owed();
    if (owed === '') return undefined;
    return Buffer.concat([out.subarray(0, done), Buffer.from(owed), out.subarray(done)]);
  }

  /** The chunks owed before [DONE]: finish reasons for choices without one, and an estimated usage chunk. */
  #owed(): string {
    const wantsUsage = this.#options.clientWantsUsage && this.#inner.usage === undefined;
    const mayLackFinish = !this.#errored && this.#finishMarkers < this.#options.choices;
    if (!wantsUsage && !mayLackFinish) return '';
    this.#fold();
    const head = this.#digest.head ?? {
      id: 'chatcmpl-gateway',
      model: undefined,
      created: Math.floor(Date.now() / 1000),
    };
    const base = (): Record<string, unknown> => {
      const chunk: Record<string, unknown> = {
        id: head.id,
        object: 'chat.completion.chunk',
        created: head.created,
        model: head.model,
      };
      if (head.system_fingerprint !== undefined) chunk.system_fingerprint = head.system_fingerprint;
      return chunk;
    };
    let owed = '';
    if (mayLackFinish) {
      for (const index of [...this.#digest.seen].sort((a, b) => a - b)) {
        if (this.#digest.finished.has(index)) continue;
        const finish_reason = this.#digest.toolCalls.has(index) ? 'tool_calls' : 'stop';
        this.#digest.finished.add(index);
        owed += encodeSseJson({ ...base(), choices: [{ index, delta: {}, logprobs: null, finish_reason }] });
      }
    }
    if (wantsUsage) {
      this.#estimated = this.#estimate(undefined);
      owed += encodeSseJson({ ...base(), choices: [], usage: { ...toOpenAIUsage(this.#estimated), estimated: true } });
    }
    return owed;
  }

  /** Parses the held output into the digest and lets it go. */
  #fold(): void {
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const chunk of held) {
      for (const event of this.#decoder.push(chunk)) this.#read(parseJson(event.data));
    }
  }

  #read(json: unknown): void {
    if (!isRecord(json) || !Array.isArray(json.choices)) return;
    this.#digest.head ??= {
      id: json.id,
      model: json.model,
      created: json.created,
      ...(json.system_fingerprint !== undefined ? { system_fingerprint: json.system_fingerprint } : {}),
    };
    const text = this.#digest.text;
    for (const choice of json.choices) {
      if (!isRecord(choice)) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      // Only choices the client asked for are owed a finish_reason (a provider's stray index must not multiply
      // chunks); their text still counts.
      if (Number.isInteger(index) && index >= 0 && index < this.#options.choices) {
        this.#digest.seen.add(index);
        if (typeof choice.finish_reason === 'string') this.#digest.finished.add(index);
      }
      const delta = choice.delta;
      if (!isRecord(delta)) continue;
      for (const key of ['content', 'refusal', 'reasoning_content', 'reasoning']) {
        const value = delta[key];
        if (typeof value === 'string') text.push(value);
      }
      if (!Array.isArray(delta.tool_calls)) continue;
      this.#digest.toolCalls.add(index);
      for (const call of delta.tool_calls) {
        const fn = isRecord(call) && isRecord(call.function) ? call.function : undefined;
        if (typeof fn?.name === 'string') text.push(fn.name);
        if (typeof fn?.arguments === 'string') text.push(fn.arguments);
      }
    }
  }
}
