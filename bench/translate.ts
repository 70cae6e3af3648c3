// Translation micro-benchmark: µs of CPU per request translation, per whole-response translation and per streamed
// event, for every provider in the registry. In-process and single-threaded: it measures the translators alone
// (no gRPC, no Envoy). Rounds interleave the providers so drift (GC, JIT, frequency) hits all of them alike, and
// the median round is reported. Run: `node dist/bench/translate.js [--rounds N] [--json]`.
//
// The samples are realistic native traffic for each provider, written from the documented wire formats (see
// docs/providers/*.md). The translate CLI test reuses them as a cross-provider conformance check.
import { serviceConfigSchema } from '../src/config/schema.js';
import { resolveTopology, type ResolvedBackend } from '../src/config/topology.js';
import { PROVIDER_APIS, PROVIDER_KINDS, type ProviderKind } from '../src/providers/apis.js';
import { encodeEvents } from '../src/providers/bedrock/fixtures.js';
import type { ResponseContext } from '../src/providers/provider.js';
import { providerFor } from '../src/providers/registry.js';
import { parseChatRequest, type ChatRequest } from '../src/unified/chat-request.js';
import { isEntryPoint } from './entry.js';
import { median, round } from './stats.js';
import { attemptCredentials } from '../src/credentials/index.js';

/** The text every sample answers with, so translations can be checked against one expectation. */
export const SAMPLE_TEXT =
  'Envoy hands the gateway each chunk as it arrives, and the translator keeps just enough state to turn provider events into OpenAI chunks without buffering the answer.';
/** The same text cut into the deltas a streaming model would send (about one word each). */
export const SAMPLE_DELTAS: readonly string[] = SAMPLE_TEXT.split(/(?<= )/);

export interface TranslationSample {
  /** A whole (non-streamed) 2xx response body in the provider's format. */
  readonly whole: Buffer;
  /** A streamed 2xx response body in the provider's format, one element per event as the provider frames it. */
  readonly streamEvents: readonly Buffer[];
}

const USAGE_IN = 412;
const USAGE_OUT = SAMPLE_DELTAS.length;

const sseData = (value: unknown) => Buffer.from(`data: ${JSON.stringify(value)}\n\n`);
const sseNamed = (name: string, value: unknown) => Buffer.from(`event: ${name}\ndata: ${JSON.stringify(value)}\n\n`);

function openAISample(extra: { filterChunk?: boolean } = {}): TranslationSample {
  const base = {
    id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
    created: 1_741_570_283,
    model: 'gpt-4o-2024-08-06',
    system_fingerprint: 'fp_eb9dce56a8',
  };
  const whole = {
    ...base,
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: SAMPLE_TEXT, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: USAGE_IN,
      completion_tokens: USAGE_OUT,
      total_tokens: USAGE_IN + USAGE_OUT,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
  };
  const chunk = (delta: object, finish: string | null) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
  });
  const events: Buffer[] = [];
  if (extra.filterChunk) {
    events.push(
      sseData({
        choices: [],
        created: 0,
        id: '',
        model: '',
        object: '',
        prompt_filter_results: [
          { prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } },
        ],
      }),
    );
  }
  events.push(sseData(chunk({ role: 'assistant', content: '', refusal: null }, null)));
  for (const delta of SAMPLE_DELTAS) events.push(sseData(chunk({ content: delta }, null)));
  events.push(sseData(chunk({}, 'stop')));
  events.push(sseData({ ...base, object: 'chat.completion.chunk', choices: [], usage: whole.usage }));
  events.push(Buffer.from('data: [DONE]\n\n'));
  return { whole: Buffer.from(JSON.stringify(whole)), streamEvents: events };
}

function anthropicSample(): TranslationSample {
  const usage = {
    input_tokens: USAGE_IN,
    output_tokens: USAGE_OUT,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    service_tier: 'standard',
  };
  const message = {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    stop_sequence: null,
  };
  const whole = { ...message, content: [{ type: 'text', text: SAMPLE_TEXT }], stop_reason: 'end_turn', usage };
  const events = [
    sseNamed('message_start', {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
    }),
    sseNamed('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    sseNamed('ping', { type: 'ping' }),
    ...SAMPLE_DELTAS.map((text) =>
      sseNamed('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
    ),
    sseNamed('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sseNamed('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: USAGE_OUT },
    }),
    sseNamed('message_stop', { type: 'message_stop' }),
  ];
  return { whole: Buffer.from(JSON.stringify(whole)), streamEvents: events };
}

function geminiSample(): TranslationSample {
  const usage = (out: number) => ({
    promptTokenCount: USAGE_IN,
    candidatesTokenCount: out,
    totalTokenCount: USAGE_IN + out,
  });
  const meta = { modelVersion: 'gemini-2.5-flash', responseId: 'mM7xaO3vKaqVz7IPqq2xkQk' };
  const whole = {
    candidates: [{ content: { role: 'model', parts: [{ text: SAMPLE_TEXT }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: usage(USAGE_OUT),
    ...meta,
  };
  // streamGenerateContent?alt=sse: every event is a whole response holding the next piece; usage repeats.
  const events = SAMPLE_DELTAS.map((text, i) => {
    const last = i === SAMPLE_DELTAS.length - 1;
    const candidate = {
      content: { role: 'model', parts: [{ text }] },
      index: 0,
      ...(last ? { finishReason: 'STOP' } : {}),
    };
    return Buffer.from(
      `data: ${JSON.stringify({ candidates: [candidate], usageMetadata: usage(i + 1), ...meta })}\r\n\r\n`,
    );
  });
  return { whole: Buffer.from(JSON.stringify(whole)), streamEvents: events };
}

function bedrockSample(): TranslationSample {
  const usage = { inputTokens: USAGE_IN, outputTokens: USAGE_OUT, totalTokens: USAGE_IN + USAGE_OUT };
  const whole = {
    output: { message: { role: 'assistant', content: [{ text: SAMPLE_TEXT }] } },
    stopReason: 'end_turn',
    usage,
    metrics: { latencyMs: 812 },
  };
  // One event-stream message per event, each payload padded as Bedrock pads it.
  const events = encodeEvents([
    { messageStart: { role: 'assistant' } },
    ...SAMPLE_DELTAS.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { text } } })),
    { contentBlockStop: { contentBlockIndex: 0 } },
    { messageStop: { stopReason: 'end_turn' } },
    { metadata: { usage, metrics: { latencyMs: 812 } } },
  ]);
  return { whole: Buffer.from(JSON.stringify(whole)), streamEvents: events };
}

function cohereSample(): TranslationSample {
  const usage = {
    billed_units: { input_tokens: 40, output_tokens: USAGE_OUT },
    tokens: { input_tokens: USAGE_IN, output_tokens: USAGE_OUT },
    cached_tokens: 0,
  };
  const id = '7e0d2a40-8a44-4f4e-b7a2-3c2d1b0a9f88';
  const whole = {
    id,
    finish_reason: 'COMPLETE',
    message: { role: 'assistant', content: [{ type: 'text', text: SAMPLE_TEXT }] },
    usage,
  };
  const events = [
    sseNamed('message-start', {
      id,
      type: 'message-start',
      delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
    }),
    sseNamed('content-start', {
      type: 'content-start',
      index: 0,
      delta: { message: { content: { type: 'text', text: '' } } },
    }),
    ...SAMPLE_DELTAS.map((text) =>
      sseNamed('content-delta', { type: 'content-delta', index: 0, delta: { message: { content: { text } } } }),
    ),
    sseNamed('content-end', { type: 'content-end', index: 0 }),
    sseNamed('message-end', { type: 'message-end', delta: { finish_reason: 'COMPLETE', usage } }),
  ];
  return { whole: Buffer.from(JSON.stringify(whole)), streamEvents: events };
}

/** One sample per provider kind: a new kind does not compile until it has one. */
export const TRANSLATION_SAMPLES: Readonly<Record<ProviderKind, TranslationSample>> = {
  openai: openAISample(),
  'openai-compatible': openAISample(),
  'azure-openai': openAISample({ filterChunk: true }),
  anthropic: anthropicSample(),
  gemini: geminiSample(),
  vertex: geminiSample(),
  bedrock: bedrockSample(),
  cohere: cohereSample(),
};

/** A typical agent turn: system prompt, a tool round trip and two tool definitions. */
export const SAMPLE_REQUEST: ChatRequest = parseChatRequest(
  JSON.stringify({
    model: 'bench-model',
    temperature: 0.3,
    max_completion_tokens: 512,
    messages: [
      {
        role: 'system',
        content:
          'You are a concise assistant for an operations team. Prefer bullet points and cite the tools you used.',
      },
      { role: 'user', content: 'Is the checkout service healthy in eu-west-1, and what changed in the last deploy?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_Fz9kq2LmX0aB',
            type: 'function',
            function: { name: 'get_health', arguments: '{"service":"checkout","region":"eu-west-1"}' },
          },
        ],
      },
      {
        role: 'tool',
        tool_call_id: 'call_Fz9kq2LmX0aB',
        content: '{"status":"degraded","p99_ms":2140,"error_rate":0.031,"since":"2026-08-20T09:12:00Z"}',
      },
      { role: 'user', content: 'And the deploy?' },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_health',
          description: 'Current health of a service in a region',
          parameters: {
            type: 'object',
            properties: { service: { type: 'string' }, region: { type: 'string' } },
            required: ['service', 'region'],
          },
        },
      },
      {
        type: 'function',
        function: {
          name: 'get_deploys',
          description: 'Recent deploys of a service',
          parameters: {
            type: 'object',
            properties: { service: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 20 } },
            required: ['service'],
          },
        },
      },
    ],
  }),
);

/** A backend of each kind: the provider's example entry, with dummy credentials (the bench sends nothing). */
export function benchBackend(kind: ProviderKind): ResolvedBackend {
  const backend = { ...PROVIDER_APIS[kind].example, name: 'bench', provider: kind };
  const config = serviceConfigSchema.parse({
    backends: [backend],
    routes: [{ model: 'bench-model', backends: [{ backend: 'bench' }] }],
  });
  // Every variable an example names resolves to a dummy.
  const env = new Proxy({}, { get: (_target, name) => (typeof name === 'string' ? `bench-${name}` : undefined) });
  const resolved = resolveTopology(config, env).backends.get('bench');
  if (!resolved) throw new Error(`no bench backend for ${kind}`);
  return resolved;
}

export interface TranslateBenchResult {
  readonly provider: ProviderKind;
  /** µs per buildRequest (the upstream stage's per-attempt translation). */
  readonly requestUs: number;
  /** µs per translateResponse of the whole sample response. */
  readonly responseUs: number;
  /** µs per streamed event (whole sample stream pushed event by event, plus end(), divided by its events). */
  readonly sseEventUs: number;
  readonly streamEvents: number;
}

export interface TranslateBenchOptions {
  readonly rounds?: number;
  /** Minimum CPU time of one measurement batch, ms. */
  readonly batchMs?: number;
}

function context(stream: boolean): ResponseContext {
  return {
    request: stream ? { ...SAMPLE_REQUEST, stream: true } : SAMPLE_REQUEST,
    clientWantsUsage: stream,
    requestId: 'bench',
    created: 1_700_000_000,
  };
}

/** CPU µs consumed by this process so far (user + system): unlike wall time, it does not count preemption. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** CPU µs per call of `op`, over a batch sized to use at least batchMs of CPU. */
function measure(op: () => void, batchMs: number): number {
  let iterations = 1;
  for (;;) {
    const start = cpuMicros();
    for (let i = 0; i < iterations; i++) op();
    const elapsed = cpuMicros() - start;
    if (elapsed >= batchMs * 1000) return elapsed / iterations;
    iterations *= elapsed < batchMs * 100 ? 10 : 2;
  }
}

export function runTranslateBench(options: TranslateBenchOptions = {}): TranslateBenchResult[] {
  const rounds = options.rounds ?? 15;
  const batchMs = options.batchMs ?? 40;
  const kinds = PROVIDER_KINDS;
  const cases = kinds.map((kind) => {
    const provider = providerFor(kind);
    const backend = benchBackend(kind);
    const sample = TRANSLATION_SAMPLES[kind];
    const target = {
      backend,
      upstreamModel: 'bench-upstream-model',
      now: new Date('2026-08-20T12:00:00Z'),
      credentials: attemptCredentials(backend),
    };
    const whole = context(false);
    const streamed = context(true);
    return {
      kind,
      streamEvents: sample.streamEvents.length,
      request: () => void provider.buildRequest(SAMPLE_REQUEST, target),
      response: () => void provider.translateResponse(200, sample.whole, whole),
      stream: () => {
        const translator = provider.createStreamTranslator(streamed);
        for (const event of sample.streamEvents) translator.push(event);
        translator.end();
      },
    };
  });
  const samples = new Map(
    kinds.map((kind) => [kind, { request: [] as number[], response: [] as number[], sse: [] as number[] }]),
  );
  // Warm-up: let the JIT settle on every path before anything counts.
  for (const c of cases) for (const op of [c.request, c.response, c.stream]) measure(op, batchMs);
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no provider always runs first (or right after the same neighbour).
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length]!;
      const s = samples.get(c.kind)!;
      s.request.push(measure(c.request, batchMs));
      s.response.push(measure(c.response, batchMs));
      s.sse.push(measure(c.stream, batchMs) / c.streamEvents);
    }
  }
  return cases.map((c) => {
    const s = samples.get(c.kind)!;
    return {
      provider: c.kind,
      requestUs: round(median(s.request), 2),
      responseUs: round(median(s.response), 2),
      sseEventUs: round(median(s.sse), 2),
      streamEvents: c.streamEvents,
    };
  });
}

export function formatTranslateBench(results: readonly TranslateBenchResult[]): string {
  const lines = [
    '| provider | request µs | response µs | SSE event µs | events in sample stream |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const r of results)
    lines.push(`| ${r.provider} | ${r.requestUs} | ${r.responseUs} | ${r.sseEventUs} | ${r.streamEvents} |`);
  return lines.join('\n');
}

function main(argv: string[]): void {
  const roundsArg = argv.indexOf('--rounds');
  const rounds = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : undefined;
  const results = runTranslateBench(rounds !== undefined && Number.isInteger(rounds) && rounds > 0 ? { rounds } : {});
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  else
    process.stdout.write(
      `${formatTranslateBench(results)}\n\nnode ${process.version}, ${results.length} providers, median of interleaved rounds\n`,
    );
}

if (isEntryPoint(import.meta.url)) main(process.argv.slice(2));
