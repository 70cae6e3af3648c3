// `node dist/bench/stream-work.js`: the router stage's per-event SSE work in isolation, warm, one process: the
// OpenAI stream translator (openai-compatible quirks on), the completion tracker around it, and the health
// observer, over the 52 events the peers bench's mock OpenAI streams (role, 48 content chunks, finish, usage, [DONE]).
// Microseconds per event; the transport's cost per message is in `npm run bench:extproc` (CPU µs/msg).
import { StreamCompletion } from '../src/extproc/stream-completion.js';
import { StreamObserver } from '../src/health/observe.js';
import { OpenAIStreamTranslator } from '../src/providers/openai/stream.js';
import type { ResponseContext } from '../src/providers/provider.js';

const MODEL = 'gpt-4o-mini-2024-07-18';
const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1_700_000_000, model: MODEL };
const event = (body: object) => Buffer.from(`data: ${JSON.stringify({ ...base, ...body })}\n\n`);
const choice = (delta: object, finish: string | null) => ({
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  usage: null,
});
const words = 'The quick brown fox jumps over the lazy dog and keeps running through the field. '.split(/(?<= )/);
const EVENTS: readonly Buffer[] = [
  event(choice({ role: 'assistant', content: '' }, null)),
  ...Array.from({ length: 48 }, (_, i) => event(choice({ content: words[i % words.length] }, null))),
  event(choice({}, 'stop')),
  event({ choices: [], usage: { prompt_tokens: 500, completion_tokens: 48, total_tokens: 548 } }),
  Buffer.from('data: [DONE]\n\n'),
];
const CONTEXT = {
  request: { model: 'bench', messages: [] },
  clientWantsUsage: true,
  requestId: 'req-1',
  created: 1_700_000_000,
} as unknown as ResponseContext;

type Part = 'translator' | 'translator + completion' | 'health observer' | 'all three';

function stream(part: Part): void {
  const translator = new OpenAIStreamTranslator(CONTEXT, { repairChunks: true });
  const completion = new StreamCompletion(translator, {
    choices: 1,
    clientWantsUsage: true,
    promptTokens: () => 500,
    countCompletion: (text) => Math.ceil(text.length / 4),
    requestId: 'req-1',
  });
  const observer = new StreamObserver();
  for (const raw of EVENTS) {
    if (part === 'translator') translator.push(raw);
    else if (part === 'translator + completion') completion.push(raw);
    else if (part === 'health observer') observer.push(raw);
    else observer.push(completion.push(raw) ?? raw);
  }
  if (part !== 'translator' && part !== 'health observer') completion.end();
  if (part === 'health observer' || part === 'all three') observer.result(false);
}

const STREAMS = 20_000;
for (const part of ['translator', 'translator + completion', 'health observer', 'all three'] as const) {
  for (let i = 0; i < STREAMS / 10; i++) stream(part);
  const started = process.hrtime.bigint();
  for (let i = 0; i < STREAMS; i++) stream(part);
  const usPerEvent = Number(process.hrtime.bigint() - started) / 1e3 / STREAMS / EVENTS.length;
  console.log(`${part.padEnd(24)} ${usPerEvent.toFixed(2)} µs per event`);
}
