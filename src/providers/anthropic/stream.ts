// Anthropic Messages SSE → OpenAI chat.completion.chunk SSE, event by event. The output depends only on whole
// events (SseDecoder reassembles them from arbitrary chunk boundaries), so any split of the same bytes gives the
// same output.
//
//   message_start              → role chunk (OpenAI streams open with one); usage counts start
//   content_block_start text   → content delta (if the block starts with text)
//   content_block_start tool   → tool_calls[{index: n-th tool_use, id, type, function{name, arguments:""}}]
//   content_block_delta        → text_delta → content; input_json_delta → tool_calls[{index, function{arguments}}]
//   content_block_stop         → a tool that streamed no arguments gets "{}" (so clients can JSON.parse them)
//   message_delta              → stop_reason remembered; usage (cumulative) merged
//   message_stop               → finish chunk, usage chunk (if the client asked), [DONE]
//   error                      → data: {"error":{…}}, [DONE]
//   ping, thinking/signature/citations deltas, unknown events → nothing
import { encodeSseJson, SSE_DONE, type SseEvent } from '../../unified/sse.js';
import { toOpenAIUsage, type OpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson, recordField, stringField } from '../../util/json.js';
import { responseModel, type ResponseContext, type StreamTranslator } from '../provider.js';
import { SseStreamTranslator } from '../sse-translator.js';
import { anthropicErrorObject, toOpenAIError, type OpenAIError } from './errors.js';
import { finishReason, type FinishReason } from './finish.js';
import type { JsonObject } from './guards.js';
import { completionId } from './response.js';
import { JSON_TOOL_NAME, usesJsonTool } from './tools.js';
import { mergeCounts, toUsage, ZERO_COUNTS, type AnthropicCounts } from './usage.js';

type Block =
  | { readonly kind: 'text' }
  /** A client tool call; `index` is its ordinal among tool_use blocks (OpenAI's tool_calls index). */
  | { readonly kind: 'tool'; readonly index: number; argumentsSent: boolean }
  /** The JSON-mode tool: its input streams out as content. */
  | { readonly kind: 'json'; argumentsSent: boolean }
  | { readonly kind: 'ignored' };

interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

interface ChunkDelta {
  role?: 'assistant';
  content?: string;
  refusal?: null;
  tool_calls?: ToolCallDelta[];
}

/** What the client receives; sdk-types.test.ts checks it against the openai SDK's ChatCompletionChunk. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{ index: 0; delta: ChunkDelta; logprobs: null; finish_reason: FinishReason | null }>;
  usage?: OpenAIUsage | null;
}

const TRUNCATED: OpenAIError = {
  message: 'The Anthropic stream ended before the response was complete.',
  type: 'server_error',
  param: null,
  code: 'upstream_stream_truncated',
};

const UNREADABLE_ERROR: OpenAIError = {
  message: 'Anthropic reported an error in the stream.',
  type: 'server_error',
  param: null,
  code: 'upstream_error',
};

function nonEmptyObject(value: unknown): value is JsonObject {
  return isRecord(value) && Object.keys(value).length > 0;
}

class AnthropicStreamTranslator extends SseStreamTranslator {
  readonly #blocks = new Map<number, Block>();
  readonly #jsonMode: boolean;
  #id: string;
  /** The answering model (message_start names it); see responseModel. */
  #model: string;
  #counts: AnthropicCounts | undefined;
  #stopReason: string | undefined;
  #toolCalls = 0;
  #started = false;
  #done = false;

  constructor(private readonly context: ResponseContext) {
    super();
    this.#jsonMode = usesJsonTool(context.request);
    this.#id = completionId(undefined, context);
    this.#model = responseModel(context);
  }

  get usage(): Usage | undefined {
    return this.#counts && toUsage(this.#counts);
  }

  protected onEnd(out: string[]): void {
    if (!this.#done) this.#fail(TRUNCATED, out);
  }

  protected onEvent(event: SseEvent, out: string[]): void {
    if (this.#done || event.event === 'ping') return;
    const parsed = parseJson(event.data);
    const data = isRecord(parsed) ? parsed : {};
    const type = event.event ?? stringField(data, 'type');
    switch (type) {
      case 'message_start':
        return this.#onMessageStart(recordField(data, 'message'), out);
      case 'content_block_start':
        return this.#onBlockStart(data, out);
      case 'content_block_delta':
        return this.#onBlockDelta(data, out);
      case 'content_block_stop':
        return this.#onBlockStop(data, out);
      case 'message_delta':
        this.#stopReason = stringField(recordField(data, 'delta') ?? {}, 'stop_reason') ?? this.#stopReason;
        this.#counts = mergeCounts(this.#counts ?? ZERO_COUNTS, recordField(data, 'usage'));
        return;
      case 'message_stop':
        return this.#finish(out);
      case 'error': {
        const error = anthropicErrorObject(data);
        return this.#fail(error ? toOpenAIError(error, stringField(data, 'request_id')) : UNREADABLE_ERROR, out);
      }
      default:
        return; // Anthropic may add event types within an API version; unknown ones carry nothing we show.
    }
  }

  #chunk(delta: ChunkDelta, finish: FinishReason | null): string {
    const chunk: ChatCompletionChunk = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.context.created,
      model: this.#model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    // As OpenAI does when include_usage is on: every chunk but the last carries usage: null.
    if (this.context.clientWantsUsage) chunk.usage = null;
    return encodeSseJson(chunk);
  }

  #start(out: string[]): void {
    if (this.#started) return;
    this.#started = true;
    out.push(this.#chunk({ role: 'assistant', content: '', refusal: null }, null));
  }

  #onMessageStart(message: JsonObject | undefined, out: string[]): void {
    const id = message && stringField(message, 'id');
    if (id) this.#id = completionId(id, this.context);
    this.#model = responseModel(this.context, message?.model);
    this.#counts = mergeCounts(this.#counts ?? ZERO_COUNTS, recordField(message, 'usage'));
    this.#start(out);
  }

  #content(text: string, out: string[]): void {
    if (text === '') return;
    this.#start(out);
    out.push(this.#chunk({ content: text }, null));
  }

  #toolArguments(index: number, text: string, out: string[]): void {
    this.#start(out);
    out.push(this.#chunk({ tool_calls: [{ index, function: { arguments: text } }] }, null));
  }

  #onBlockStart(data: JsonObject, out: string[]): void {
    const index = data.index;
    const block = recordField(data, 'content_block');
    if (typeof index !== 'number' || !block) return;
    if (block.type === 'text') {
      this.#blocks.set(index, { kind: 'text' });
      this.#content(stringField(block, 'text') ?? '', out);
      return;
    }
    if (block.type !== 'tool_use') {
      this.#blocks.set(index, { kind: 'ignored' });
      return;
    }
    const name = stringField(block, 'name') ?? '';
    // Tool input normally starts as {} and streams as input_json_delta; a non-empty start is sent whole.
    const initial = nonEmptyObject(block.input) ? JSON.stringify(block.input) : '';
    if (this.#jsonMode && name === JSON_TOOL_NAME) {
      this.#blocks.set(index, { kind: 'json', argumentsSent: initial !== '' });
      this.#content(initial, out);
      return;
    }
    const ordinal = this.#toolCalls++;
    this.#blocks.set(index, { kind: 'tool', index: ordinal, argumentsSent: initial !== '' });
    this.#start(out);
    const call: ToolCallDelta = {
      index: ordinal,
      id: stringField(block, 'id') ?? '',
      type: 'function',
      function: { name, arguments: initial },
    };
    out.push(this.#chunk({ tool_calls: [call] }, null));
  }

  #onBlockDelta(data: JsonObject, out: string[]): void {
    const block = typeof data.index === 'number' ? this.#blocks.get(data.index) : undefined;
    const delta = recordField(data, 'delta');
    if (!block || !delta) return;
    if (delta.type === 'text_delta' && block.kind === 'text') this.#content(stringField(delta, 'text') ?? '', out);
    if (delta.type !== 'input_json_delta') return;
    const partial = stringField(delta, 'partial_json') ?? '';
    if (partial === '') return;
    if (block.kind === 'tool') {
      block.argumentsSent = true;
      this.#toolArguments(block.index, partial, out);
    } else if (block.kind === 'json') {
      block.argumentsSent = true;
      this.#content(partial, out);
    }
  }

  #onBlockStop(data: JsonObject, out: string[]): void {
    const block = typeof data.index === 'number' ? this.#blocks.get(data.index) : undefined;
    if (block?.kind === 'tool' && !block.argumentsSent) this.#toolArguments(block.index, '{}', out);
    if (block?.kind === 'json' && !block.argumentsSent) this.#content('{}', out);
  }

  #finish(out: string[]): void {
    this.#start(out);
    this.#done = true;
    out.push(this.#chunk({}, finishReason(this.#stopReason, this.#toolCalls)));
    const usage = this.usage;
    if (this.context.clientWantsUsage && usage) {
      const last: ChatCompletionChunk = {
        id: this.#id,
        object: 'chat.completion.chunk',
        created: this.context.created,
        model: this.#model,
        choices: [],
        usage: toOpenAIUsage(usage),
      };
      out.push(encodeSseJson(last));
    }
    out.push(SSE_DONE);
  }

  #fail(error: OpenAIError, out: string[]): void {
    this.#done = true;
    out.push(encodeSseJson({ error }), SSE_DONE);
  }
}

export function createAnthropicStreamTranslator(context: ResponseContext): StreamTranslator {
  return new AnthropicStreamTranslator(context);
}
