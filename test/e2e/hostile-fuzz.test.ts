// 10,000 hostile requests through real Envoy and the service, budgets on: deep nesting, huge and odd numbers,
// invalid UTF-8, prototype keys, hostile model names, wrong types, odd headers. Whatever arrives, the client gets
// a 2xx from the mock (the request was sound) or a 4xx in the OpenAI error shape — never a 5xx from the service,
// never a reset, and nothing is left reserved. Seeded: a failure prints its seed and index and replays exactly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mulberry32 } from '../../src/testing/random.js';
import { startMockOpenAI, type MockOpenAI } from '../support/mock-openai.js';
import { startMockAnthropic, type MockAnthropic } from '../support/mock-anthropic.js';
import { startTestService, type TestService } from '../support/service.js';

const SEED = 20261202;
const REQUESTS = 10_000;
const CONCURRENCY = 32;
const VIRTUAL_KEY = 'sk-virtual-fuzz';

let openai: MockOpenAI;
let anthropic: MockAnthropic;
let service: TestService;

before(async () => {
  openai = await startMockOpenAI();
  anthropic = await startMockAnthropic({ apiKey: 'sk-ant' });
  service = await startTestService(
    `
limits: { maxRequestBodyBytes: 262144 }
dataPlane: { bufferLimitBytes: 262144 }
budgets:
  store: { kind: memory }
  organisations:
    - name: org
      limits: [{ window: day, totalTokens: 1000000000 }]
      teams:
        - name: team
          keys: [{ name: fuzz, sha256: "${createHash('sha256').update(VIRTUAL_KEY).digest('hex')}" }]
backends:
  - { name: compat, provider: openai-compatible, baseUrl: "${openai.baseUrl}" }
  - { name: claude, provider: anthropic, baseUrl: "${anthropic.baseUrl}", apiKeyEnv: ANTHROPIC_KEY }
routes:
  - { model: m, backends: [{ backend: compat }] }
  - { model: claude, backends: [{ backend: claude }] }
`,
    { ANTHROPIC_KEY: 'sk-ant' },
  );
});

after(async () => {
  await service?.close();
  await openai?.close();
  await anthropic?.close();
});

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

/** Deep JSON as text (JSON.stringify itself recurses, so deep values are spliced in where a marker stands). */
const NESTED = '__nested_marker__';
function nestedText(depth: number, leaf: string): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '{"a":' : '[';
    close = (i % 2 === 0 ? '}' : ']') + close;
  }
  return open + leaf + close;
}

const HOSTILE_NAMES = [
  '../../../evil',
  'm/../../x',
  'm?x=1',
  'm#frag',
  'm%2F..',
  'm\r\nx-injected: 1',
  ' m ',
  'm\u0000',
  '💥',
  'a'.repeat(5000),
  '__proto__',
  'constructor',
];
const ODD_NUMBERS = [1e308, -1e308, 2 ** 64, -(2 ** 63), 0.1, -0, 1e-320, 1.2345678901234568e29];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

/** One hostile request body (bytes) for request i. */
function hostileBody(random: Random): Buffer {
  const model = random() < 0.5 ? 'm' : 'claude';
  const base: Record<string, unknown> = { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 };
  let deep = '';
  switch (Math.floor(random() * 12)) {
    case 0: // deep nesting where JSON schemas live, and in free-form places
      base[pick(random, ['metadata', 'response_format', 'tools', 'unknown_field'])] = NESTED;
      deep = nestedText(50 + Math.floor(random() * 5000), '"x"');
      break;
    case 1:
      base.tools = [{ type: 'function', function: { name: 'f', parameters: NESTED } }];
      deep = nestedText(Math.floor(random() * 3000), '{"type":"string"}');
      break;
    case 2: // huge and odd numbers
      base[pick(random, ['max_tokens', 'temperature', 'top_p', 'n', 'seed', 'presence_penalty', 'logit_bias'])] = pick(
        random,
        ODD_NUMBERS,
      );
      break;
    case 3: // prototype keys at several levels
      base[pick(random, PROTO_KEYS)] = { polluted: true };
      base.messages = [{ role: 'user', content: 'hi', [pick(random, PROTO_KEYS)]: { x: 1 } }];
      break;
    case 4: // hostile model names
      base.model = pick(random, HOSTILE_NAMES);
      break;
    case 5: // wrong types everywhere
      base[pick(random, ['messages', 'model', 'stream', 'tools', 'stop', 'max_tokens'])] = pick(random, [
        null,
        1,
        'x',
        [],
        {},
        true,
        [null],
      ]);
      break;
    case 6: // odd but valid content: huge string, many messages, unicode edge cases
      base.messages = Array.from({ length: 1 + Math.floor(random() * 200) }, (_, k) => ({
        role: k % 2 === 0 ? 'user' : 'assistant',
        content: pick(random, ['\uD800', '\u0000', '𝓗𝓮𝓵𝓵𝓸', 'x'.repeat(1000), '', ' ']),
      }));
      break;
    case 7: // streams, sometimes with usage
      base.stream = true;
      if (random() < 0.5) base.stream_options = { include_usage: pick(random, [true, false, 'yes', null]) };
      break;
    case 8: // tool plumbing with odd ids and arguments
      base.messages = [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: pick(random, HOSTILE_NAMES),
              type: 'function',
              function: { name: pick(random, ['f', '', '../x']), arguments: pick(random, ['{', '{}', 'null', '"x"']) },
            },
          ],
        },
        { role: 'tool', tool_call_id: pick(random, HOSTILE_NAMES), content: pick(random, ['{}', '', '\u0000']) },
      ];
      break;
    default:
      break; // a sound request: must be answered 200
  }
  const text = JSON.stringify(base).replace(`"${NESTED}"`, deep);
  const bytes = Buffer.from(text);
  switch (Math.floor(random() * 10)) {
    case 0: // invalid UTF-8 spliced in
      return Buffer.concat([
        bytes.subarray(0, bytes.length >> 1),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
        bytes.subarray(bytes.length >> 1),
      ]);
    case 1: // truncated JSON
      return bytes.subarray(0, Math.floor(random() * bytes.length));
    default:
      return bytes;
  }
}

interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly error?: string;
}

function send(port: number, body: Buffer, random: Random, agent: http.Agent): Promise<Outcome> {
  const headers: http.OutgoingHttpHeaders = {
    'content-type': pick(random, ['application/json', 'text/plain', 'application/json; charset=latin1']),
    'content-length': body.length,
    authorization: `Bearer ${VIRTUAL_KEY}`,
  };
  if (random() < 0.2)
    headers.authorization = pick(random, ['Bearer ', 'Bearer x', 'Basic Zm9vOmJhcg==', 'Bearer ' + 'k'.repeat(4000)]);
  if (random() < 0.1) headers['x-llm-extproc-route'] = pick(random, ['llm-extproc', 'llm.claude', 'llm-xds']);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: pick(random, ['/v1/chat/completions', '/chat/completions']),
        headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', (err) => resolve({ status: res.statusCode ?? 0, body: '', error: err.message }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, body: '', error: err.message }));
    req.end(body);
  });
}

test(
  `${REQUESTS} hostile requests through Envoy: 2xx or an OpenAI-shaped 4xx, never a 5xx or a reset`,
  { timeout: 600_000 },
  async (t) => {
    const port = Number(new URL(service.baseUrl).port);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const index = next++;
          const random = mulberry32(SEED + index);
          const outcome = await send(port, hostileBody(random), random, agent);
          statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          const where = `seed ${SEED}, request ${index}`;
          if (outcome.error || outcome.status === 0) failures.push(`${where}: transport error ${outcome.error ?? ''}`);
          else if (outcome.status >= 500) failures.push(`${where}: ${outcome.status} ${outcome.body.slice(0, 300)}`);
          else if (outcome.status >= 400) {
            let shaped: boolean;
            try {
              const parsed = JSON.parse(outcome.body) as { error?: { message?: unknown; type?: unknown } };
              shaped = typeof parsed.error?.message === 'string' && typeof parsed.error.type === 'string';
            } catch {
              shaped = false;
            }
            if (!shaped) failures.push(`${where}: ${outcome.status} not OpenAI-shaped: ${outcome.body.slice(0, 200)}`);
          }
        }
      }),
    );
    agent.destroy();
    const histogram = JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])));
    t.diagnostic(`statuses: ${histogram}`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${REQUESTS} failed; statuses ${histogram}`);
    assert.ok((statuses.get(200) ?? 0) > REQUESTS / 10, `sound requests were served: ${histogram}`);
    assert.ok(
      [...statuses.keys()].some((s) => s >= 400 && s < 500),
      `hostile ones were refused: ${histogram}`,
    );
    // Nothing left reserved: every reservation was settled or released.
    const budgets = await (await fetch(`${service.adminUrl}/budgets`)).json();
    assert.ok(
      !/"reserved":\s*[1-9]/.test(JSON.stringify(budgets)),
      `no reservation left: ${JSON.stringify(budgets).slice(0, 500)}`,
    );
  },
);
