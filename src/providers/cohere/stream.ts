// Cohere v2 Chat stream → unified SSE. Cohere sends typed events (message-start, content-*, tool-plan-delta,
// tool-call-*, citation-*, message-end); each becomes zero or more `chat.completion.chunk`s. State lives here, not in
// the bytes, so the output is identical however Envoy cuts the upstream body.
import { SSE_DONE, encodeSseJson, type SseEvent } from '../../unified/sse.js';
import { toOpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson, recordField, stringField } from '../../util/json.js';
import { responseModel, type ResponseContext } from '../provider.js';
import { SseStreamTranslator } from '../sse-translator.js';
import { failureBody } from './errors.js';
import { mapFinishReason, normaliseArguments, usageFromCohere } from './response.js';

/** One tool call as the client sees it. Arguments are held back only while they could still spell "null". */
interface ToolCallState {
  readonly index: number;
  held: string;
  released: boolean;
}

function messageOf(event: Record<string, unknown>): Record<string, unknown> | undefined {
  return recordField(recordField(event, 'delta'), 'message');
}

export class CohereStreamTranslator extends SseStreamTranslator {
  #id: string;
  #started = false;
  #finished = false;
  #usage: Usage | undefined;
  readonly #toolCalls = new Map<number, ToolCallState>();
  #current: ToolCallState | undefined;

  constructor(private readonly context: ResponseContext) {
    super();
    this.#id = `chatcmpl-${context.requestId ?? 'cohere'}`;
  }

  get usage(): Usage | undefined {
    return this.#usage;
  }

  protected onEnd(out: string[]): void {
    if (!this.#finished) {
      this.#finished = true;
      out.push(
        encodeSseJson(
          failureBody({ status: 502, code: 'upstream_error', message: 'The Cohere stream ended before message-end.' }),
        ),
      );
      out.push(SSE_DONE);
    }
  }

  protected onEvent(event: SseEvent, out: string[]): void {
    if (this.#finished) return;
    const data = event.data.trim();
    if (data === '' || data === '[DONE]') return;
    const json = parseJson(data);
    if (!isRecord(json)) return;
    const type = stringField(json, 'type') ?? event.event;
    switch (type) {
      case 'message-start':
        this.#id = stringField(json, 'id') ?? this.#id;
        this.#start(out);
        return;
      case 'content-delta': {
        // Text only: thinking deltas have no place in Chat Completions.
        const text = stringField(recordField(messageOf(json), 'content'), 'text');
        if (text) this.#delta(out, { content: text });
        return;
      }
      case 'tool-plan-delta': {
        const plan = stringField(messageOf(json), 'tool_plan');
        if (plan) this.#delta(out, { content: plan });
        return;
      }
      case 'tool-call-start':
        this.#toolCallStart(json, out);
        return;
      case 'tool-call-delta': {
        const fragment = stringField(recordField(recordField(messageOf(json), 'tool_calls'), 'function'), 'arguments');
        const call = this.#callFor(json);
        if (call && fragment) this.#arguments(call, fragment, out);
        return;
      }
      case 'tool-call-end': {
        const call = this.#callFor(json);
        if (call) this.#release(call, out);
        return;
      }
      case 'message-end':
        this.#messageEnd(json, out);
        return;
      default:
        // content-start/-end carry no text of their own; citations and debug events have no OpenAI counterpart.
        return;
    }
  }

  #chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
    const chunk: Record<string, unknown> = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.context.created,
      model: responseModel(this.context),
      choices,
      ...extra,
    };
    // With include_usage, OpenAI puts `usage: null` on every chunk but the last.
    if (this.context.clientWantsUsage && !('usage' in chunk)) chunk.usage = null;
    return encodeSseJson(chunk);
  }

  #start(out: string[]): void {
    if (this.#started) return;
    this.#started = true;
    out.push(
      this.#chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]),
    );
  }

  #delta(out: string[], delta: Record<string, unknown>): void {
    this.#start(out);
    out.push(this.#chunk([{ index: 0, delta, finish_reason: null, logprobs: null }]));
  }

  /** Cohere's `index` numbers tool calls; the client's index is our own ordinal, robust to gaps. */
  #callFor(event: Record<string, unknown>): ToolCallState | undefined {
    const index = event.index;
    return typeof index === 'number' ? (this.#toolCalls.get(index) ?? this.#current) : this.#current;
  }

  #toolCallStart(event: Record<string, unknown>, out: string[]): void {
    const call = recordField(messageOf(event), 'tool_calls');
    const fn = recordField(call, 'function');
    const state: ToolCallState = { index: this.#toolCalls.size, held: '', released: false };
    this.#toolCalls.set(typeof event.index === 'number' ? event.index : -1 - this.#toolCalls.size, state);
    this.#current = state;
    this.#delta(out, {
      tool_calls: [
        {
          index: state.index,
          id: stringField(call, 'id') ?? '',
          type: 'function',
          function: { name: stringField(fn, 'name') ?? '', arguments: '' },
        },
      ],
    });
    const initial = stringField(fn, 'arguments');
    if (initial) this.#arguments(state, initial, out);
  }

  #arguments(call: ToolCallState, fragment: string, out: string[]): void {
    if (call.released) {
      this.#argumentDelta(call, fragment, out);
      return;
    }
    call.held += fragment;
    // Until the text can no longer be "null", hold it: a parameterless tool's "null" becomes "{}" at the end.
    if (!'null'.startsWith(call.held.trim())) {
      call.released = true;
      this.#argumentDelta(call, call.held, out);
      call.held = '';
    }
  }

  #release(call: ToolCallState, out: string[]): void {
    if (call.released) return;
    call.released = true;
    this.#argumentDelta(call, normaliseArguments(call.held), out);
    call.held = '';
  }

  #argumentDelta(call: ToolCallState, fragment: string, out: string[]): void {
    this.#delta(out, { tool_calls: [{ index: call.index, function: { arguments: fragment } }] });
  }

  #messageEnd(event: Record<string, unknown>, out: string[]): void {
    for (const call of this.#toolCalls.values()) this.#release(call, out);
    const delta = recordField(event, 'delta');
    const usage = usageFromCohere(delta?.usage);
    if (usage) this.#usage = usage;
    this.#finished = true;
    const finish = mapFinishReason(stringField(delta, 'finish_reason'), this.#toolCalls.size > 0);
    if (typeof finish !== 'string') {
      out.push(encodeSseJson(failureBody(finish, stringField(delta, 'error'))));
      out.push(SSE_DONE);
      return;
    }
    this.#start(out);
    out.push(this.#chunk([{ index: 0, delta: {}, finish_reason: finish, logprobs: null }]));
    if (this.context.clientWantsUsage && usage) out.push(this.#chunk([], { usage: toOpenAIUsage(usage) }));
    out.push(SSE_DONE);
  }
}
