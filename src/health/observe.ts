// What the checks look at: a unified (OpenAI-shaped) completion reduced to its choices, from a whole body or from
// a stream's unified SSE chunks (fed in order, arbitrary boundaries). Pure data in, data out.
export interface ObservedToolCall {
  readonly name: string;
  readonly arguments: string;
}

export interface ObservedChoice {
  content: string;
  refusal: string;
  finishReason: string | undefined;
  toolCalls: ObservedToolCall[];
}

export interface ObservedCompletion {
  readonly stream: boolean;
  readonly choices: readonly ObservedChoice[];
  /** Provider-reported completion tokens, when present. */
  readonly completionTokens: number | undefined;
  /** A 200 that carries an error object (or no choices at all): what it said. */
  readonly errorPayload: string | undefined;
  /** Streams: the stream ended with every choice's finish_reason (or [DONE]) seen, and was not cut. */
  readonly complete: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Anything shaped like a credential (sk-…, AKIA…, long opaque tokens) is cut out of quoted provider text. */
const SECRET_LIKE = /\b(?:sk|pk|rk|api|key|token|AKIA|ASIA|ya29)[-_.A-Za-z0-9]{6,}|[A-Za-z0-9_\-+/=]{24,}/g;

export function redact(text: string): string {
  return text.replace(SECRET_LIKE, '[redacted]');
}

function errorText(error: unknown): string {
  if (typeof error === 'string') return redact(error.slice(0, 200));
  if (isRecord(error) && typeof error.message === 'string') return redact(error.message.slice(0, 200));
  return 'error object';
}

/** A whole unified response body (already translated by the provider). */
export function observeWholeBody(body: Buffer | string): ObservedCompletion {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return {
      stream: false,
      choices: [],
      completionTokens: undefined,
      errorPayload: 'body is not JSON',
      complete: true,
    };
  }
  if (!isRecord(json))
    return {
      stream: false,
      choices: [],
      completionTokens: undefined,
      errorPayload: 'body is not a JSON object',
      complete: true,
    };
  const usage =
    isRecord(json.usage) && typeof json.usage.completion_tokens === 'number' ? json.usage.completion_tokens : undefined;
  if (json.error !== undefined && json.error !== null)
    return { stream: false, choices: [], completionTokens: usage, errorPayload: errorText(json.error), complete: true };
  const rawChoices = Array.isArray(json.choices) ? json.choices : [];
  const choices: ObservedChoice[] = rawChoices.filter(isRecord).map((c) => {
    const message = isRecord(c.message) ? c.message : {};
    const toolCalls = Array.isArray(message.tool_calls) ? message.tool_calls.filter(isRecord) : [];
    return {
      content: typeof message.content === 'string' ? message.content : '',
      refusal: typeof message.refusal === 'string' ? message.refusal : '',
      finishReason: typeof c.finish_reason === 'string' ? c.finish_reason : undefined,
      toolCalls: toolCalls.map((t) => {
        const fn = isRecord(t.function) ? t.function : {};
        return {
          name: typeof fn.name === 'string' ? fn.name : '',
          arguments: typeof fn.arguments === 'string' ? fn.arguments : '',
        };
      }),
    };
  });
  const errorPayload = choices.length === 0 ? 'a 200 without choices' : undefined;
  return { stream: false, choices, completionTokens: usage, errorPayload, complete: true };
}

/** Unified SSE chunks in, one ObservedCompletion out; also timestamps the first content for TTFT. */
export class StreamObserver {
  #pending = '';
  #choices: ObservedChoice[] = [];
  #toolCalls: Array<Array<{ name: string; arguments: string }>> = [];
  #completionTokens: number | undefined;
  #errorPayload: string | undefined;
  #firstContentAt: number | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get firstContentAt(): number | undefined {
    return this.#firstContentAt;
  }

  push(chunk: Buffer | string): void {
    const text = this.#pending + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.#line(text.slice(start, nl));
      start = nl + 1;
    }
    this.#pending = text.slice(start);
  }

  #choice(index: number): ObservedChoice {
    while (this.#choices.length <= index) {
      this.#choices.push({ content: '', refusal: '', finishReason: undefined, toolCalls: [] });
      this.#toolCalls.push([]);
    }
    return this.#choices[index] as ObservedChoice;
  }

  #line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (data === '[DONE]') return;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    if (!isRecord(json)) return;
    if (json.error !== undefined && json.error !== null) this.#errorPayload ??= errorText(json.error);
    if (isRecord(json.usage) && typeof json.usage.completion_tokens === 'number')
      this.#completionTokens = json.usage.completion_tokens;
    if (!Array.isArray(json.choices)) return;
    for (const c of json.choices) {
      if (!isRecord(c)) continue;
      const index = typeof c.index === 'number' && c.index >= 0 && c.index < 128 ? c.index : 0;
      const choice = this.#choice(index);
      const delta = isRecord(c.delta) ? c.delta : {};
      if (typeof delta.content === 'string' && delta.content.length > 0) {
        choice.content += delta.content;
        this.#firstContentAt ??= this.now();
      }
      if (typeof delta.refusal === 'string') choice.refusal += delta.refusal;
      if (Array.isArray(delta.tool_calls)) {
        this.#firstContentAt ??= this.now();
        const calls = this.#toolCalls[index] ?? [];
        for (const t of delta.tool_calls) {
          if (!isRecord(t)) continue;
          const at = typeof t.index === 'number' && t.index >= 0 && t.index < 128 ? t.index : calls.length;
          while (calls.length <= at) calls.push({ name: '', arguments: '' });
          const call = calls[at] as { name: string; arguments: string };
          const fn = isRecord(t.function) ? t.function : {};
          if (typeof fn.name === 'string') call.name += fn.name;
          if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
        }
      }
      if (typeof c.finish_reason === 'string') choice.finishReason = c.finish_reason;
    }
  }

  /** cut: the stream ended before its end (client or upstream reset). */
  result(cut = false): ObservedCompletion {
    if (this.#pending.length > 0) {
      this.#line(this.#pending);
      this.#pending = '';
    }
    const choices = this.#choices.map((c, i) => ({ ...c, toolCalls: this.#toolCalls[i] ?? [] }));
    const finished = choices.length > 0 && choices.every((c) => c.finishReason !== undefined);
    return {
      stream: true,
      choices,
      completionTokens: this.#completionTokens,
      errorPayload: this.#errorPayload,
      complete: !cut && finished,
    };
  }
}
