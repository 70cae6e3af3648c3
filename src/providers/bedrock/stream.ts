// ConverseStream (binary event stream) → OpenAI chat.completion.chunk SSE. Stateful per response; output
// depends only on the decoded messages, never on how the bytes were split.
//
// Bedrock's order is messageStart, content blocks (text blocks have no contentBlockStart; toolUse blocks
// start with id and name, then stream their input as JSON fragments), messageStop{stopReason}, and last
// metadata{usage}. The finish chunk goes out at messageStop; the usage chunk and [DONE] at the end of the
// stream, so a metadata event arriving in either order is handled the same way.
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { encodeSseJson, SSE_DONE } from '../../unified/sse.js';
import { toOpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson } from '../../util/json.js';
import { responseModel, type ResponseContext, type StreamTranslator } from '../provider.js';
import { mapStreamException, streamFailure } from './errors.js';
import { EventStreamDecoder, type EventStreamMessage } from './eventstream.js';
import { JSON_TOOL_NAME, usesJsonTool } from './request.js';
import { completionId, outcomeFor, usageFromBedrock, type FinishReason } from './response.js';

function header(message: EventStreamMessage, name: string): string | undefined {
  const value = message.headers.get(name);
  return typeof value === 'string' ? value : undefined;
}

/** What a content block streams into. */
type Block = { kind: 'tool'; index: number } | { kind: 'json' };

export class BedrockStreamTranslator implements StreamTranslator {
  readonly #decoder = new EventStreamDecoder();
  readonly #id: string;
  readonly #jsonMode: boolean;
  #usage: Usage | undefined;
  #roleSent = false;
  #stopped = false;
  #failed = false;
  /** contentBlockIndex → what its deltas become. */
  readonly #blocks = new Map<number, Block>();
  #toolCalls = 0;

  constructor(private readonly context: ResponseContext) {
    this.#id = completionId(context);
    this.#jsonMode = usesJsonTool(context.request);
  }

  get usage(): Usage | undefined {
    return this.#usage;
  }

  push(chunk: Buffer): Buffer {
    const out: string[] = [];
    const { messages, error } = this.#decoder.push(chunk);
    for (const message of messages) this.#handle(message, out);
    if (error !== undefined)
      this.#fail(streamFailure(`The Bedrock event stream is corrupt (${error}).`, 'corrupt_event_stream'), out);
    return Buffer.from(out.join(''));
  }

  end(): Buffer {
    const out: string[] = [];
    if (!this.#failed) {
      if (this.#decoder.pendingBytes > 0) {
        this.#fail(
          streamFailure('The Bedrock event stream ended in the middle of a message.', 'truncated_event_stream'),
          out,
        );
      } else if (!this.#stopped) {
        this.#fail(
          streamFailure('The Bedrock event stream ended before the message was complete.', 'truncated_event_stream'),
          out,
        );
      } else if (this.context.clientWantsUsage && this.#usage) {
        out.push(
          encodeSseJson({
            id: this.#id,
            object: 'chat.completion.chunk',
            created: this.context.created,
            model: responseModel(this.context),
            choices: [],
            usage: toOpenAIUsage(this.#usage),
          }),
        );
      }
    }
    out.push(SSE_DONE);
    return Buffer.from(out.join(''));
  }

  #chunk(delta: Record<string, unknown>, finish: FinishReason | null = null): string {
    const chunk: Record<string, unknown> = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.context.created,
      model: responseModel(this.context),
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
    // OpenAI marks every chunk with usage:null when the client asked for the usage chunk.
    if (this.context.clientWantsUsage) chunk.usage = null;
    return encodeSseJson(chunk);
  }

  #emit(delta: Record<string, unknown>, out: string[], finish: FinishReason | null = null): void {
    if (!this.#roleSent) {
      this.#roleSent = true;
      out.push(this.#chunk({ role: 'assistant', content: '' }));
    }
    if (Object.keys(delta).length > 0 || finish !== null) out.push(this.#chunk(delta, finish));
  }

  /** The error event is final: later events only contribute usage. */
  #fail(error: OpenAIErrorBody, out: string[]): void {
    if (this.#failed) return;
    this.#failed = true;
    out.push(encodeSseJson(error));
  }

  #handle(message: EventStreamMessage, out: string[]): void {
    const type = header(message, ':message-type');
    if (type === 'exception') {
      return this.#fail(
        mapStreamException(header(message, ':exception-type') ?? 'unknownException', message.payload),
        out,
      );
    }
    if (type === 'error') {
      const code = header(message, ':error-code') ?? 'event_stream_error';
      return this.#fail(streamFailure(header(message, ':error-message') ?? `Bedrock stream error ${code}`, code), out);
    }
    if (type !== 'event') return;
    const payload = parseJson(message.payload);
    if (payload === undefined)
      return this.#fail(streamFailure('Bedrock sent an event the gateway could not read.', 'unreadable_event'), out);
    if (!isRecord(payload)) return;
    const event = header(message, ':event-type');
    if (event === 'metadata') {
      this.#usage = usageFromBedrock(payload.usage) ?? this.#usage;
      return;
    }
    if (this.#failed) return;
    switch (event) {
      case 'messageStart':
        return this.#emit({}, out);
      case 'contentBlockStart':
        return this.#onBlockStart(payload, out);
      case 'contentBlockDelta':
        return this.#onBlockDelta(payload, out);
      case 'messageStop': {
        this.#stopped = true;
        const outcome = outcomeFor(payload.stopReason, this.#jsonMode);
        if ('error' in outcome) return this.#fail(outcome.error, out);
        return this.#emit({}, out, outcome.finish);
      }
      default:
        // contentBlockStop and events newer than this code carry nothing for the client.
        return;
    }
  }

  #onBlockStart(payload: Record<string, unknown>, out: string[]): void {
    const use = isRecord(payload.start) ? payload.start.toolUse : undefined;
    if (!isRecord(use) || typeof use.name !== 'string' || typeof payload.contentBlockIndex !== 'number') return;
    if (this.#jsonMode && use.name === JSON_TOOL_NAME) {
      this.#blocks.set(payload.contentBlockIndex, { kind: 'json' });
      return this.#emit({}, out);
    }
    // OpenAI's tool_calls[].index counts tool calls, not content blocks.
    const index = this.#toolCalls++;
    this.#blocks.set(payload.contentBlockIndex, { kind: 'tool', index });
    const id = typeof use.toolUseId === 'string' ? use.toolUseId : `call_${index}`;
    this.#emit({ tool_calls: [{ index, id, type: 'function', function: { name: use.name, arguments: '' } }] }, out);
  }

  #onBlockDelta(payload: Record<string, unknown>, out: string[]): void {
    const delta = payload.delta;
    if (!isRecord(delta)) return;
    if (typeof delta.text === 'string') {
      // JSON mode: only the forced tool's input is the answer; text around it would break the JSON.
      if (delta.text !== '' && !this.#jsonMode) this.#emit({ content: delta.text }, out);
      return;
    }
    const input = isRecord(delta.toolUse) ? delta.toolUse.input : undefined;
    if (typeof input !== 'string' || input === '' || typeof payload.contentBlockIndex !== 'number') return;
    const block = this.#blocks.get(payload.contentBlockIndex);
    if (block?.kind === 'json') this.#emit({ content: input }, out);
    else if (block?.kind === 'tool')
      this.#emit({ tool_calls: [{ index: block.index, function: { arguments: input } }] }, out);
    // reasoningContent and other deltas have no Chat Completions equivalent: dropped.
  }
}
