// Cost of the passive semantic-health checks per response (src/health/), on the router stage's hot path: µs per
// response for typical 1 KB and 10 KB completions, whole bodies and SSE streams (unified chunks of 40 characters,
// and of 4 characters — about one token per chunk, as OpenAI streams), with every check on. Also the repetition score alone and a json_schema answer.
// Run: node dist/bench/health-checks.js  (after building). Prints a table and, with --json, one JSON object.
import { runChecks } from '../src/health/checks.js';
import { CHECK_NAMES, healthConfigSchema, type CheckName } from '../src/health/config.js';
import { longProse } from '../src/health/fixtures.js';
import { HealthMonitor } from '../src/health/monitor.js';
import { observeWholeBody, StreamObserver } from '../src/health/observe.js';
import { repetitionScore } from '../src/health/repetition.js';
import { parseConfig } from '../src/config/load.js';
import { resolveTopology } from '../src/config/topology.js';
import type { ChatRequest } from '../src/unified/chat-request.js';

const config = healthConfigSchema.parse({});
const ALL = new Set<CheckName>(CHECK_NAMES);
const request: ChatRequest = {
  model: 'm',
  messages: [{ role: 'user', content: 'Explain the gateway.' }],
  max_tokens: 4096,
};

function wholeBody(content: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 20,
        completion_tokens: Math.ceil(content.length / 4),
        total_tokens: 20 + Math.ceil(content.length / 4),
      },
    }),
  );
}

function sseChunks(content: string, chars = 40): Buffer[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    Buffer.from(
      `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
    );
  return [
    chunk({ role: 'assistant', content: '' }, null),
    ...(content.match(new RegExp(`.{1,${chars}}`, 'gs')) ?? []).map((p) => chunk({ content: p }, null)),
    chunk({}, 'stop'),
    Buffer.from('data: [DONE]\n\n'),
  ];
}

function measure(name: string, fn: () => void, minMs = 400): { name: string; usPerOp: number } {
  for (let i = 0; i < 200; i++) fn();
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    let ops = 0;
    const start = performance.now();
    let now = start;
    while (now - start < minMs / 5) {
      for (let i = 0; i < 20; i++) fn();
      ops += 20;
      now = performance.now();
    }
    runs.push(((now - start) * 1000) / ops);
  }
  runs.sort((a, b) => a - b);
  return { name, usPerOp: runs[2] ?? 0 };
}

const parsed = parseConfig(`
backends: [{ name: a, provider: openai-compatible, baseUrl: "http://127.0.0.1:1/v1" }]
routes: [{ model: m, backends: [{ backend: a }] }]
`);
if (!parsed.ok) throw new Error('bench config');
const topology = resolveTopology(parsed.config, {});
const monitor = new HealthMonitor({ config: () => config, topology: () => topology });

const results: Array<{ name: string; usPerOp: number }> = [];
for (const size of [1024, 10 * 1024]) {
  const label = size === 1024 ? '1 KB' : '10 KB';
  const content = longProse(size);
  const body = wholeBody(content);
  const chunks = sseChunks(content);
  results.push(
    measure(
      `whole body ${label}: parse + all checks`,
      () => void runChecks(request, observeWholeBody(body), ALL, config),
    ),
  );
  results.push(
    measure(`stream ${label} (${chunks.length} chunks): observe + all checks`, () => {
      const o = new StreamObserver();
      for (const c of chunks) o.push(c);
      runChecks(request, o.result(false), ALL, config);
    }),
  );
  const tokenChunks = sseChunks(content, 4);
  results.push(
    measure(`stream ${label} in token-sized chunks (${tokenChunks.length}): observe + all checks`, () => {
      const o = new StreamObserver();
      for (const c of tokenChunks) o.push(c);
      runChecks(request, o.result(false), ALL, config);
    }),
  );
  results.push(
    measure(
      `whole body ${label}: + monitor (score, metrics)`,
      () =>
        void monitor.observeResponse('a', request, observeWholeBody(body), {
          ttftMs: undefined,
          tokensPerSecond: undefined,
        }),
    ),
  );
  results.push(measure(`repetition score alone ${label}`, () => void repetitionScore(content)));
}
const schemaRequest: ChatRequest = {
  ...request,
  response_format: {
    type: 'json_schema',
    json_schema: {
      name: 'r',
      schema: {
        type: 'object',
        properties: {
          items: {
            type: 'array',
            items: {
              type: 'object',
              properties: { id: { type: 'integer' }, text: { type: 'string' } },
              required: ['id', 'text'],
            },
          },
        },
        required: ['items'],
      },
    },
  },
};
const schemaBody = wholeBody(
  JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, text: longProse(200, i) })) }),
);
results.push(
  measure(
    `json_schema answer ${Math.round(schemaBody.length / 1024)} KB: parse + all checks`,
    () => void runChecks(schemaRequest, observeWholeBody(schemaBody), ALL, config),
  ),
);

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ node: process.version, results }, null, 2));
} else {
  console.log(`semantic health checks per response (node ${process.version}, median of 5)`);
  for (const r of results) console.log(`${r.usPerOp.toFixed(1).padStart(9)} µs  ${r.name}`);
}
