// streamGenerateContent?alt=sse → chat.completion.chunk events. Each Gemini event is a whole
// GenerateContentResponse holding the next piece of each candidate: text parts become content deltas, a function
// call arrives whole and becomes one tool_calls delta with complete arguments, usageMetadata repeats (the last
// wins). Gemini ends the stream by closing it, so the finish, usage chunk and [DONE] are the translator's job.
import { SSE_DONE, encodeSseJson, type SseEvent } from '../../unified/sse.js';
import type { OpenAIErrorBody } from '../../unified/errors.js';
import { toOpenAIUsage, type Usage } from '../../unified/usage.js';
import { isRecord, parseJson, stringField } from '../../util/json.js';
import { responseModel, type ResponseContext } from '../provider.js';
import { SseStreamTranslator } from '../sse-translator.js';
import {
  completionId,
  finishReason,
  logprobsFromGemini,
  readParts,
  requestedChoices,
  usageFromGemini,
  type FinishReason,
  type OpenAILogprobs,
} from './candidates.js';
import { mapGoogleError } from './errors.js';

interface CandidateState {
  toolCalls: number;
  finished: boolean;
}

type Delta = Record<string, unknown>;

export class GeminiStreamTranslator extends SseStreamTranslator {
  readonly #candidates = new Map<number, CandidateState>();
  #usage: Usage | undefined;
  #responseId: string | undefined;
  #modelVersion: string | undefined;
  #blocked = false;
  /** Set once an error or [DONE] went out: nothing may follow. */
  #closed = false;

  constructor(private readonly context: ResponseContext) {
    super();
  }

  get usage(): Usage | undefined {
    return this.#usage;
  }

  protected onEnd(out: string[]): void {
    if (!this.#closed) out.push(this.#finish());
  }

  protected onEvent(event: SseEvent, out: string[]): void {
    if (!this.#closed) out.push(this.#translate(event));
  }

  #translate(event: SseEvent): string {
    const json = parseJson(event.data);
    if (!isRecord(json)) return '';
    if (isRecord(json.error)) return this.#fail(mapGoogleError(json, 500)?.body);
    this.#responseId ??= stringField(json, 'responseId');
    this.#modelVersion ??= stringField(json, 'modelVersion');
    this.#usage = usageFromGemini(json.usageMetadata) ?? this.#usage;
    const candidates = Array.isArray(json.candidates) ? json.candidates.filter(isRecord) : [];
    if (
      candidates.length === 0 &&
      isRecord(json.promptFeedback) &&
      typeof json.promptFeedback.blockReason === 'string'
    ) {
      return this.#onBlocked();
    }
    let out = '';
    candidates.forEach((candidate, position) => {
      const index = typeof candidate.index === 'number' ? candidate.index : position;
      out += this.#onCandidate(index, candidate);
    });
    return out;
  }

  #onCandidate(index: number, candidate: Record<string, unknown>): string {
    let state = this.#candidates.get(index);
    const first = state === undefined;
    state ??= { toolCalls: 0, finished: false };
    this.#candidates.set(index, state);
    if (state.finished) return '';
    const content = isRecord(candidate.content) ? candidate.content : {};
    const { text, toolCalls } = readParts(content.parts, index, state.toolCalls, this.#responseId);
    let out = '';
    // OpenAI's first delta carries the role, with content '' (or null when the turn opens with a tool call).
    const delta: Delta = first ? { role: 'assistant', content: text ?? (toolCalls.length > 0 ? null : '') } : {};
    if (!first && text) delta.content = text;
    if (toolCalls.length > 0) {
      delta.tool_calls = toolCalls.map((call, i) => ({ index: state.toolCalls + i, ...call }));
      state.toolCalls += toolCalls.length;
    }
    if (Object.keys(delta).length > 0) out += this.#chunk(index, delta, null, logprobsFromGemini(candidate));
    const reason = stringField(candidate, 'finishReason');
    if (reason) {
      state.finished = true;
      out += this.#chunk(index, {}, finishReason(reason, state.toolCalls > 0));
    }
    return out;
  }

  /** The prompt was blocked before any candidate: each requested choice ends as content_filter. */
  #onBlocked(): string {
    this.#blocked = true;
    let out = '';
    for (let index = 0; index < requestedChoices(this.context); index++) {
      out += this.#chunk(index, { role: 'assistant', content: null }, null) + this.#chunk(index, {}, 'content_filter');
    }
    return out;
  }

  #finish(): string {
    const states = [...this.#candidates.values()];
    const complete = this.#blocked || (states.length > 0 && states.every((s) => s.finished));
    if (!complete) {
      return this.#fail({
        error: {
          message: 'The Gemini stream ended before the response was complete.',
          type: 'server_error',
          param: null,
          code: 'upstream_error',
        },
      });
    }
    let out = '';
    if (this.context.clientWantsUsage && this.#usage) {
      out += encodeSseJson({ ...this.#envelope(), choices: [], usage: toOpenAIUsage(this.#usage) });
    }
    this.#closed = true;
    return out + SSE_DONE;
  }

  /** OpenAI streams report errors as a last data event, then [DONE]. */
  #fail(body: OpenAIErrorBody | undefined): string {
    this.#closed = true;
    const error = body ?? {
      error: { message: 'The Gemini stream failed.', type: 'server_error', param: null, code: 'upstream_error' },
    };
    return encodeSseJson(error) + SSE_DONE;
  }

  #envelope() {
    return {
      id: completionId(this.#responseId, this.context),
      object: 'chat.completion.chunk',
      created: this.context.created,
      model: responseModel(this.context, this.#modelVersion),
    };
  }

  #chunk(index: number, delta: Delta, finish: FinishReason | null, logprobs: OpenAILogprobs | null = null): string {
    const chunk = {
      ...this.#envelope(),
      choices: [{ index, delta, finish_reason: finish, logprobs }],
      ...(this.context.clientWantsUsage ? { usage: null } : {}),
    };
    return encodeSseJson(chunk);
  }
}
