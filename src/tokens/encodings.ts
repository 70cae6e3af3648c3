// Model name → tokenizer. Exact choices follow openai/tiktoken `tiktoken/model.py` (release 0.14.0, @4e71bbe):
// an exact-name table first, then prefix rules in the order model.py lists them. Models without a public tokenizer
// (Anthropic, Google, Mistral, Meta, Cohere, …) get an `estimate` choice naming the family whose correction factor
// applies (see estimate.ts). Pure data in, data out.

/** Encodings this service counts exactly. `o200k_harmony` (gpt-oss) shares o200k_base's ranks and split pattern and
 * differs only in special tokens, so ordinary text is counted with the o200k_base encoder. */
export type ExactEncoding = 'o200k_base' | 'cl100k_base' | 'o200k_harmony';

/** The encoders actually loaded: harmony text is counted with o200k_base. */
export type LoadedEncoding = 'o200k_base' | 'cl100k_base';

/** Families of models whose tokenizer is not public; each has its own learned correction factor. */
export const ESTIMATE_FAMILIES = [
  'anthropic',
  'google',
  'mistral',
  'meta',
  'cohere',
  'amazon',
  'deepseek',
  'qwen',
  'xai',
  'openai-legacy',
  'unknown',
] as const;
export type EstimateFamily = (typeof ESTIMATE_FAMILIES)[number];

export type TokenizerChoice =
  | { readonly kind: 'exact'; readonly encoding: ExactEncoding; readonly model: string }
  | {
      readonly kind: 'estimate';
      readonly family: EstimateFamily;
      readonly baseEncoding: 'o200k_base';
      readonly model: string;
    };

// tiktoken model.py MODEL_TO_ENCODING (the non-deprecated part; the deprecated p50k/r50k models are retired and
// fall to the `openai-legacy` estimate below).
const MODEL_TO_ENCODING: ReadonlyMap<string, ExactEncoding> = new Map([
  // reasoning
  ['o1', 'o200k_base'],
  ['o3', 'o200k_base'],
  ['o4-mini', 'o200k_base'],
  // chat
  ['gpt-5', 'o200k_base'],
  ['gpt-4.1', 'o200k_base'],
  ['gpt-4o', 'o200k_base'],
  ['gpt-4', 'cl100k_base'],
  ['gpt-3.5-turbo', 'cl100k_base'],
  ['gpt-3.5', 'cl100k_base'],
  ['gpt-35-turbo', 'cl100k_base'], // Azure deployment name
  // base
  ['davinci-002', 'cl100k_base'],
  ['babbage-002', 'cl100k_base'],
  // embeddings
  ['text-embedding-ada-002', 'cl100k_base'],
  ['text-embedding-3-small', 'cl100k_base'],
  ['text-embedding-3-large', 'cl100k_base'],
]);

// tiktoken model.py MODEL_PREFIX_TO_ENCODING, same order (first match wins). Note "gpt-5" has no dash, so it also
// covers gpt-5.1, gpt-5-mini-2025-08-07, …; the others need the dash (gpt-4o-2024-08-06, o3-mini, gpt-4-turbo).
const MODEL_PREFIX_TO_ENCODING: ReadonlyArray<readonly [string, ExactEncoding]> = [
  ['o1-', 'o200k_base'],
  ['o3-', 'o200k_base'],
  ['o4-mini-', 'o200k_base'],
  ['gpt-5', 'o200k_base'],
  ['gpt-4.5-', 'o200k_base'],
  ['gpt-4.1-', 'o200k_base'],
  ['chatgpt-4o-', 'o200k_base'],
  ['gpt-4o-', 'o200k_base'],
  ['gpt-4-', 'cl100k_base'],
  ['gpt-3.5-turbo-', 'cl100k_base'],
  ['gpt-35-turbo-', 'cl100k_base'],
  ['gpt-oss-', 'o200k_harmony'],
  ['ft:gpt-4o', 'o200k_base'],
  ['ft:gpt-4', 'cl100k_base'],
  ['ft:gpt-3.5-turbo', 'cl100k_base'],
  ['ft:davinci-002', 'cl100k_base'],
  ['ft:babbage-002', 'cl100k_base'],
];

// Additions beyond model.py, so every name in the brief resolves: bare "gpt-4.5" / "chatgpt-4o" / "gpt-oss" and
// the Azure "gpt-35-turbo-16k" style are covered by the prefixes above; these are the remaining bare names.
const EXTRA_EXACT: ReadonlyMap<string, ExactEncoding> = new Map([
  ['gpt-4.5', 'o200k_base'],
  ['gpt-oss', 'o200k_harmony'],
]);

// Model names seen through other front doors: OpenRouter ("openai/gpt-4o"), Bedrock ("openai.gpt-oss-120b-1:0"),
// Azure AI Foundry ("azure/gpt-4o"). Only these vendor prefixes are stripped before the tiktoken rules apply.
const OPENAI_VENDOR_PREFIX = /^(?:openai|azure|azure_ai)[/.]/;

// Retired OpenAI models on p50k/r50k (text-davinci-003, code-davinci-002, davinci, …): not worth loading two more
// encoders for; they are estimated like any other model without a loaded tokenizer.
const OPENAI_LEGACY =
  /^(?:text-davinci-|text-curie-|text-babbage-|text-ada-|code-davinci-|code-cushman-|davinci|curie|babbage|ada$|text-similarity-|text-search-|code-search-|cushman-codex|gpt2$|gpt-2$)/;

const FAMILY_RULES: ReadonlyArray<readonly [RegExp, EstimateFamily]> = [
  [/claude/, 'anthropic'],
  [/gemini|gemma|(?:^|[/.-])(?:palm|bison)/, 'google'],
  [/mistral|mixtral|codestral|ministral|pixtral|magistral|devstral|voxtral/, 'mistral'],
  [/llama/, 'meta'],
  [/command|c4ai|cohere|(?:^|[/.-])aya/, 'cohere'],
  [/(?:^|[./])(?:nova|titan)|amazon\./, 'amazon'],
  [/deepseek/, 'deepseek'],
  [/qwen|qwq/, 'qwen'],
  [/grok/, 'xai'],
];

/** Resolves a model name (as sent to the provider) to the exact encoding or to an estimate family. */
export function tokenizerForModel(model: string): TokenizerChoice {
  const name = model.trim();
  const bare = name.replace(OPENAI_VENDOR_PREFIX, '');
  const exact = exactEncodingFor(bare);
  if (exact !== undefined) return { kind: 'exact', encoding: exact, model: name };
  const lower = bare.toLowerCase();
  const family = OPENAI_LEGACY.test(lower)
    ? 'openai-legacy'
    : (FAMILY_RULES.find(([re]) => re.test(lower))?.[1] ?? 'unknown');
  return { kind: 'estimate', family, baseEncoding: 'o200k_base', model: name };
}

function exactEncodingFor(name: string): ExactEncoding | undefined {
  const direct = MODEL_TO_ENCODING.get(name) ?? EXTRA_EXACT.get(name);
  if (direct !== undefined) return direct;
  for (const [prefix, encoding] of MODEL_PREFIX_TO_ENCODING) if (name.startsWith(prefix)) return encoding;
  return undefined;
}

/** The encoder that counts ordinary text for an exact encoding (o200k_harmony text = o200k_base text). */
export function loadedEncodingFor(encoding: ExactEncoding): LoadedEncoding {
  return encoding === 'cl100k_base' ? 'cl100k_base' : 'o200k_base';
}

/** The encoders counting for these models need: an exact model's own, o200k_base for every estimate. Sorted. */
export function encodingsForModels(models: Iterable<string>): LoadedEncoding[] {
  const needed = new Set<LoadedEncoding>();
  for (const model of models) {
    const choice = tokenizerForModel(model);
    needed.add(choice.kind === 'exact' ? loadedEncodingFor(choice.encoding) : 'o200k_base');
  }
  return [...needed].sort();
}
