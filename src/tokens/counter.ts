// Prompt token counting for a unified (OpenAI Chat Completions) request.
//
// Formulas: openai/openai-cookbook `examples/How_to_count_tokens_with_tiktoken.ipynb` (@c81359c), verified there
// against the API (129 tokens for its example conversation on gpt-3.5-turbo/gpt-4, 124 on gpt-4o/gpt-4o-mini; 105
// and 101 with its tools example), reproduced by counter.test.ts:
// - every message costs tokens_per_message (3) plus the tokens of its role, content and name; a name adds
//   tokens_per_name (1). gpt-3.5-turbo-0301 used 4 and −1.
// - the reply is primed with <|start|>assistant<|message|>: +3 per request.
// - tools (num_tokens_for_tools): per function func_init (7 on o200k models, 10 on cl100k ones) + "name:description"
//   (one trailing period dropped); if it has properties, prop_init (3) and per property prop_key (3) +
//   "key:type:description", and for an enum enum_init (−3) + per item enum_item (3) + the item; func_end (12) once.
// What the cookbook does not cover is counted by documented rules and reported in `approximations` (see
// docs/tokens.md): content parts, images, audio/file parts, assistant tool_calls, tool messages, nested tool schemas,
// response_format schemas and gpt-oss's harmony template.
//
// The counters are synchronous and pure given the loaded encoders; they throw TokenizerNotReadyError until
// loadEncoders() has resolved.
import type { ChatMessage, ChatRequest } from '../unified/chat-request.js';
import { isRecord, recordField } from '../util/json.js';
import { tokenizerFor, type TextTokenizer } from './backend.js';
import { loadedEncodingFor, tokenizerForModel, type EstimateFamily, type ExactEncoding } from './encodings.js';
import { correctionFor, INITIAL_CORRECTIONS, type CorrectionState } from './estimate.js';
import { imageTokens, tileCostsFor, type TileCosts } from './images.js';
import { TextCountCache } from './text-cache.js';

export { encodersLoaded, loadedEncodings, loadEncoders, TokenizerNotReadyError } from './backend.js';

/** Parts of a prompt counted by a rule of ours rather than a published, API-verified formula. */
export type Approximation =
  | 'image' // image parts: tile formula, model-dependent (images.ts)
  | 'image_size_unknown' // an image whose size was not in a data: URL header; 1024×1024 assumed
  | 'audio' // input_audio parts: not counted (0)
  | 'file' // file parts: not counted (0)
  | 'tool_calls' // assistant tool_calls and tool messages: names + arguments + 3 per call; rendering unpublished
  | 'tool_schema' // tool parameters beyond flat properties (nested, arrays, $defs): JSON text counted
  | 'response_format' // json_schema: its JSON text counted
  | 'harmony'; // gpt-oss: the harmony template's own system preamble is not rendered

export interface PromptCount {
  /** The model the count is for (as given). */
  readonly model: string;
  /** 'exact': a public tokenizer and OpenAI's chat overheads; 'estimate': o200k-based count × learned factor. */
  readonly kind: 'exact' | 'estimate';
  /** The model's encoding (exact) or the encoding the estimate is based on. */
  readonly encoding: ExactEncoding;
  readonly family?: EstimateFamily;
  /** The number to use. */
  readonly tokens: number;
  /** Before correction: equal to `tokens` when exact. Feed it to estimate.observe() with the provider's count. */
  readonly baseTokens: number;
  /** Correction factor applied (1 when exact). */
  readonly factor: number;
  /** Empty when every part was counted by the cookbook's verified formulas. */
  readonly approximations: readonly Approximation[];
  /** Base tokens by part: messages (incl. the +3 priming), tool definitions, images, response_format. */
  readonly breakdown: {
    readonly messages: number;
    readonly tools: number;
    readonly images: number;
    readonly responseFormat: number;
  };
}

export interface CountOptions {
  /** Learned correction factors for estimate families (estimate.ts); neutral (1.0) when omitted. */
  readonly corrections?: CorrectionState;
}

interface ChatFormat {
  readonly tokensPerMessage: number;
  readonly tokensPerName: number;
  readonly funcInit: number;
}

const REPLY_PRIMING = 3;
const PROP_INIT = 3;
const PROP_KEY = 3;
const ENUM_INIT = -3;
const ENUM_ITEM = 3;
const FUNC_END = 12;
/** Per assistant tool call, on top of its name and arguments (our rule, mirroring tokens_per_message). */
const TOKENS_PER_TOOL_CALL = 3;

function chatFormatFor(model: string, encoding: ExactEncoding): ChatFormat {
  const funcInit = encoding === 'cl100k_base' ? 10 : 7;
  if (/(?:^|[/.])gpt-3\.?5-turbo-0301/.test(model)) return { tokensPerMessage: 4, tokensPerName: -1, funcInit };
  return { tokensPerMessage: 3, tokensPerName: 1, funcInit };
}

/** Tokens of a plain text for `model`: exact for models with a public tokenizer, else o200k × the family factor. */
export function countText(model: string, text: string, options: CountOptions = {}): number {
  const choice = tokenizerForModel(model);
  if (choice.kind === 'exact') return new Tally(tokenizerFor(loadedEncodingFor(choice.encoding))).text(text);
  const base = new Tally(tokenizerFor('o200k_base')).text(text);
  return Math.ceil(base * correctionFor(options.corrections ?? INITIAL_CORRECTIONS, choice.family).factor);
}

/** Prompt tokens of a chat request for `request.model`, or for `model` when given (e.g. the backend's model name). */
export function countPromptTokens(
  request: ChatRequest,
  options: CountOptions & { readonly model?: string } = {},
): PromptCount {
  const model = options.model ?? request.model;
  const choice = tokenizerForModel(model);
  const encoding: ExactEncoding = choice.kind === 'exact' ? choice.encoding : choice.baseEncoding;
  const tally = new Tally(tokenizerFor(loadedEncodingFor(encoding)));
  if (encoding === 'o200k_harmony') tally.flag('harmony');
  const format = chatFormatFor(model, encoding);
  const costs = tileCostsFor(model);

  let messages = REPLY_PRIMING;
  for (const message of request.messages) messages += messageTokens(message, format, costs, tally);
  const tools = toolsTokens(request.tools, format.funcInit, tally);
  const responseFormat = responseFormatTokens(request, tally);
  const baseTokens = messages + tally.imageTokens + tools + responseFormat;
  const breakdown = { messages, tools, images: tally.imageTokens, responseFormat };
  const approximations = [...tally.approximations];

  if (choice.kind === 'exact') {
    return { model, kind: 'exact', encoding, tokens: baseTokens, baseTokens, factor: 1, approximations, breakdown };
  }
  const { factor } = correctionFor(options.corrections ?? INITIAL_CORRECTIONS, choice.family);
  return {
    model,
    kind: 'estimate',
    encoding,
    family: choice.family,
    tokens: Math.ceil(baseTokens * factor),
    baseTokens,
    factor,
    approximations,
    breakdown,
  };
}

/** Shared by every count in the process: the same history arrives with every turn of a conversation. */
const RECENT_TEXTS = new TextCountCache();

/** Counts text pieces with one encoder and collects what had to be approximated. Local to one count. */
class Tally {
  readonly approximations = new Set<Approximation>();
  imageTokens = 0;

  constructor(private readonly tokenizer: TextTokenizer) {}

  text(text: string): number {
    if (text.length === 0) return 0;
    return RECENT_TEXTS.count(this.tokenizer.encoding, text, () => this.tokenizer.count(text));
  }

  flag(approximation: Approximation): void {
    this.approximations.add(approximation);
  }
}

type ContentPart = Exclude<NonNullable<ChatMessage['content']>, string>[number];

function messageTokens(message: ChatMessage, format: ChatFormat, costs: TileCosts, tally: Tally): number {
  let tokens = format.tokensPerMessage + tally.text(message.role);
  const name: unknown = message.name;
  if (typeof name === 'string') tokens += tally.text(name) + format.tokensPerName;
  tokens += contentTokens(message.content, costs, tally);
  if (message.role === 'assistant') {
    if (typeof message.refusal === 'string') tokens += tally.text(message.refusal);
    for (const call of message.tool_calls ?? []) {
      tally.flag('tool_calls');
      tokens += TOKENS_PER_TOOL_CALL + tally.text(call.function.name) + tally.text(call.function.arguments);
    }
  } else if (message.role === 'tool') {
    tally.flag('tool_calls'); // the tool_call_id is not counted: the model sees the result, not our id
  }
  return tokens;
}

function contentTokens(content: ChatMessage['content'], costs: TileCosts, tally: Tally): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return tally.text(content);
  let tokens = 0;
  for (const part of content) tokens += partTokens(part, costs, tally);
  return tokens;
}

function partTokens(part: ContentPart, costs: TileCosts, tally: Tally): number {
  switch (part.type) {
    case 'text':
      return tally.text(part.text);
    case 'refusal':
      return tally.text(part.refusal);
    case 'image_url': {
      const image = imageTokens(part.image_url.url, part.image_url.detail, costs);
      tally.flag('image');
      if (!image.sized) tally.flag('image_size_unknown');
      tally.imageTokens += image.tokens;
      return 0;
    }
    case 'input_audio':
      tally.flag('audio');
      return 0;
    case 'file':
      tally.flag('file');
      return 0;
  }
}

type Tool = NonNullable<ChatRequest['tools']>[number];

function toolsTokens(tools: readonly Tool[] | undefined, funcInit: number, tally: Tally): number {
  if (tools === undefined || tools.length === 0) return 0;
  let tokens = 0;
  for (const { function: fn } of tools) {
    tokens += funcInit + tally.text(`${fn.name}:${withoutFinalPeriod(fn.description ?? '')}`);
    const parameters = isRecord(fn.parameters) ? fn.parameters : undefined;
    const extra = pick(parameters, ['$defs', 'definitions']);
    if (extra !== undefined) {
      tally.flag('tool_schema');
      tokens += tally.text(JSON.stringify(extra));
    }
    const properties = recordField(parameters, 'properties');
    const keys = properties === undefined ? [] : Object.keys(properties);
    if (properties === undefined || keys.length === 0) continue;
    tokens += PROP_INIT;
    for (const key of keys) {
      const property = recordField(properties, key) ?? {};
      tokens += PROP_KEY;
      if (Array.isArray(property.enum)) {
        tokens += ENUM_INIT;
        for (const item of property.enum)
          tokens += ENUM_ITEM + tally.text(typeof item === 'string' ? item : JSON.stringify(item));
      }
      let type = '';
      if (typeof property.type === 'string') type = property.type;
      else if (property.type !== undefined) {
        tally.flag('tool_schema');
        type = JSON.stringify(property.type);
      }
      const description = typeof property.description === 'string' ? property.description : '';
      tokens += tally.text(`${key}:${type}:${withoutFinalPeriod(description)}`);
      const nested = pick(property, ['properties', 'items', 'anyOf', 'oneOf', 'allOf', '$ref']);
      if (nested !== undefined) {
        tally.flag('tool_schema');
        tokens += tally.text(JSON.stringify(nested));
      }
    }
  }
  return tokens + FUNC_END;
}

function responseFormatTokens(request: ChatRequest, tally: Tally): number {
  const format = request.response_format;
  if (format?.type !== 'json_schema') return 0;
  tally.flag('response_format');
  return tally.text(JSON.stringify(format.json_schema));
}

function withoutFinalPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

/** The listed keys that are present, as one object; undefined when none is. */
function pick(
  record: Record<string, unknown> | undefined,
  keys: readonly string[],
): Record<string, unknown> | undefined {
  if (record === undefined) return undefined;
  let picked: Record<string, unknown> | undefined;
  for (const key of keys) {
    if (record[key] !== undefined) (picked ??= {})[key] = record[key];
  }
  return picked;
}
