// The five canary kinds, table-driven: a right answer passes, a wrong, missing or malformed one fails — first the
// pure expectation, then through probeOnce against a local OpenAI-compatible server and the real provider
// translation. Plus the rotation (pure, seedable) and the skip of kinds a provider's checkRequest refuses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/load.js';
import { resolveTopology, type ResolvedBackend } from '../config/topology.js';
import type { ChatRequest } from '../unified/chat-request.js';
import type { ObservedToolCall } from './observe.js';
import { completion, probedBackend, promptOf, startCompletionUpstream } from './testing.js';
import {
  CANARY_KINDS,
  PROBE_TOOL,
  canary,
  canaryOfKind,
  pickCanary,
  probeOnce,
  probeWithUsage,
  refusal,
  type Canary,
  type CanaryKind,
} from './probe.js';

interface Answer {
  readonly content: string;
  readonly toolCalls: readonly ObservedToolCall[];
}

/** What a well-behaved model answers: read off the prompt, as a model would. */
function solve(request: ChatRequest): Answer {
  const text = promptOf(request);
  const sum = /What is (\d+) \+ (\d+)/.exec(text);
  if (sum) return { content: String(Number(sum[1]) + Number(sum[2])), toolCalls: [] };
  const echo = /: (\w+)$/.exec(text);
  if (echo) return { content: echo[1] ?? '', toolCalls: [] };
  const asked = /"word" set to "(\w+)" and "number" set to (\d+)/.exec(text);
  if (asked) return { content: JSON.stringify({ word: asked[1], number: Number(asked[2]) }), toolCalls: [] };
  const args = /a = (\d+) and b = (\d+)/.exec(text);
  if (args)
    return {
      content: '',
      toolCalls: [{ name: PROBE_TOOL, arguments: JSON.stringify({ a: Number(args[1]), b: Number(args[2]) }) }],
    };
  return { content: '{"name":"n","count":2}', toolCalls: [] };
}

const text = (content: string): Answer => ({ content, toolCalls: [] });
const call = (name: string, args: string): Answer => ({ content: '', toolCalls: [{ name, arguments: args }] });
/** The right tool-call arguments with one change. */
const args = (c: Canary, change: (v: { a: number; b: number }) => Record<string, unknown>): string =>
  JSON.stringify(change(JSON.parse(solve(c.request).toolCalls[0]?.arguments ?? '{}') as { a: number; b: number }));
const schemaAnswer = (c: Canary, change: (v: { word: string; number: number }) => unknown): string =>
  JSON.stringify(change(JSON.parse(solve(c.request).content) as { word: string; number: number }));

/** Bad answers per kind: wrong, missing and malformed. */
const BAD: Record<CanaryKind, Array<[string, (c: Canary) => Answer]>> = {
  arithmetic: [
    ['a wrong sum', (c) => text(String(Number(solve(c.request).content) + 1))],
    ['no answer', () => text('')],
    ['words instead of the number', () => text('about twenty or so')],
    ['the sum only as part of a longer number', (c) => text(`${solve(c.request).content}0`)],
  ],
  echo: [
    ['another word', (c) => text(solve(c.request).content === 'amber' ? 'cobalt' : 'amber')],
    ['no answer', () => text('')],
    [
      'a tool call instead',
      (c) => ({
        content: '',
        toolCalls: [{ name: 'echo', arguments: JSON.stringify({ word: solve(c.request).content }) }],
      }),
    ],
  ],
  json: [
    ['a missing key', () => text('{"name":"x"}')],
    ['no answer', () => text('')],
    ['malformed JSON', () => text('{"name": "x", "count":')],
    ['an array', () => text('["name","count"]')],
  ],
  json_schema: [
    ['a wrong number', (c) => text(schemaAnswer(c, (v) => ({ ...v, number: v.number + 1 })))],
    ['a wrong word', (c) => text(schemaAnswer(c, (v) => ({ ...v, word: `${v.word}s` })))],
    ['the number as a string', (c) => text(schemaAnswer(c, (v) => ({ ...v, number: String(v.number) })))],
    ['a missing key', (c) => text(schemaAnswer(c, (v) => ({ word: v.word })))],
    ['no answer', () => text('')],
    ['malformed JSON', () => text('{"word": "amber", "number": ')],
    ['prose around the object', (c) => text(`Here you go: ${solve(c.request).content}`)],
    ['null', () => text('null')],
  ],
  tool_call: [
    [
      'swapped arguments',
      (c) =>
        call(
          PROBE_TOOL,
          args(c, (v) => ({ a: v.b, b: v.a })),
        ),
    ],
    [
      'a wrong argument',
      (c) =>
        call(
          PROBE_TOOL,
          args(c, (v) => ({ ...v, b: v.b + 1 })),
        ),
    ],
    [
      'a missing argument',
      (c) =>
        call(
          PROBE_TOOL,
          args(c, (v) => ({ a: v.a })),
        ),
    ],
    [
      'arguments as strings',
      (c) =>
        call(
          PROBE_TOOL,
          args(c, (v) => ({ a: String(v.a), b: String(v.b) })),
        ),
    ],
    ['another tool', (c) => call('record_number', solve(c.request).toolCalls[0]?.arguments ?? '{}')],
    ['malformed arguments', () => call(PROBE_TOOL, '{"a": 1,')],
    ['empty arguments', () => call(PROBE_TOOL, '')],
    ['no tool call, the numbers in text', (c) => text(solve(c.request).toolCalls[0]?.arguments ?? '')],
    ['no answer', () => text('')],
  ],
};

const SEEDS = [0, 0.3, 0.5, 0.77, 0.999];

describe('canary kinds (pure)', () => {
  for (const kind of CANARY_KINDS) {
    for (const seed of SEEDS) {
      test(`${kind} (random ${seed}): the right answer passes`, () => {
        const c = canaryOfKind(kind, 'm', 32, seed);
        assert.equal(c.kind, kind);
        const right = solve(c.request);
        assert.equal(c.expect(right.content, right.toolCalls), undefined);
      });
    }
    for (const [name, bad] of BAD[kind]) {
      test(`${kind}: ${name} fails`, () => {
        for (const seed of SEEDS) {
          const c = canaryOfKind(kind, 'm', 32, seed);
          const answer = bad(c);
          const problem = c.expect(answer.content, answer.toolCalls);
          assert.equal(typeof problem, 'string', `${JSON.stringify(answer)} passed for ${promptOf(c.request)}`);
        }
      });
    }
  }
  test('json_schema asks for a strict schema with the two values; tool_call forces record_numbers(a, b)', () => {
    const schema = canaryOfKind('json_schema', 'm', 32, 0.3).request;
    assert.equal(schema.response_format?.type, 'json_schema');
    assert.ok(schema.response_format?.type === 'json_schema');
    assert.equal(schema.response_format.json_schema.strict, true);
    assert.deepEqual(schema.response_format.json_schema.schema?.required, ['word', 'number']);
    const tool = canaryOfKind('tool_call', 'm', 32, 0.3).request;
    assert.deepEqual(tool.tool_choice, { type: 'function', function: { name: PROBE_TOOL } });
    assert.equal(tool.tools?.[0]?.function.name, PROBE_TOOL);
    assert.deepEqual(tool.tools?.[0]?.function.parameters?.required, ['a', 'b']);
  });
  test('a tool call among others passes when record_numbers has the right arguments', () => {
    const c = canaryOfKind('tool_call', 'm', 32, 0.3);
    const right = solve(c.request).toolCalls;
    assert.equal(c.expect('', [{ name: 'other', arguments: '{}' }, ...right]), undefined);
  });
});

describe('rotation', () => {
  test('cycles through all five kinds in order, starting with the original three', () => {
    const kinds = Array.from({ length: 10 }, (_, seq) => canary(seq, 'm', 16, 0.5).kind);
    assert.deepEqual(kinds, [...CANARY_KINDS, ...CANARY_KINDS]);
    assert.deepEqual(CANARY_KINDS.slice(0, 3), ['arithmetic', 'echo', 'json']);
  });
  test('is pure and seedable: the same seq and random give the same request', () => {
    for (let seq = 0; seq < 5; seq++) {
      assert.deepEqual(canary(seq, 'm', 16, 0.42).request, canary(seq, 'm', 16, 0.42).request);
      assert.deepEqual(
        canary(seq, 'm', 16, 0.42).request,
        canaryOfKind(CANARY_KINDS[seq] ?? 'arithmetic', 'm', 16, 0.42).request,
      );
    }
    assert.notDeepEqual(canary(3, 'm', 16, 0.1234).request, canary(3, 'm', 16, 0.6789).request);
    assert.notDeepEqual(canary(4, 'm', 16, 0.1234).request, canary(4, 'm', 16, 0.6789).request);
    assert.equal(canary(4, 'model-x', 24, 0.2).request.model, 'model-x');
    assert.equal(canary(4, 'model-x', 24, 0.2).request.max_tokens, 24);
  });
  test('pickCanary sends the seq-th kind when the provider accepts it', () => {
    const choice = pickCanary(3, 'm', 16, 0.5, () => undefined);
    assert.equal(choice.canary?.kind, 'json_schema');
    assert.deepEqual(choice.skipped, []);
  });
  test('pickCanary skips kinds the provider refuses, to the next kind in rotation', () => {
    const noStructured = (request: ChatRequest) =>
      request.response_format?.type === 'json_schema'
        ? 'json_schema unsupported'
        : request.tool_choice !== undefined
          ? 'forced tool_choice unsupported'
          : undefined;
    const third = pickCanary(3, 'm', 16, 0.5, noStructured);
    assert.equal(third.canary?.kind, 'arithmetic');
    assert.deepEqual(third.skipped, [
      { kind: 'json_schema', reason: 'json_schema unsupported' },
      { kind: 'tool_call', reason: 'forced tool_choice unsupported' },
    ]);
    assert.deepEqual(third.canary?.request, canary(5, 'm', 16, 0.5).request);
    assert.equal(pickCanary(4, 'm', 16, 0.5, noStructured).canary?.kind, 'arithmetic');
    assert.equal(pickCanary(2, 'm', 16, 0.5, noStructured).canary?.kind, 'json');
  });
  test('pickCanary gives no canary when every kind is refused', () => {
    const choice = pickCanary(0, 'm', 16, 0.5, () => 'no');
    assert.equal(choice.canary, undefined);
    assert.deepEqual(
      choice.skipped.map((s) => s.kind),
      [...CANARY_KINDS],
    );
  });
});

describe('every provider accepts every kind (checkRequest) in this build', () => {
  const parsed = parseConfig(`
backends:
  - { name: openai, provider: openai, apiKeyEnv: K }
  - { name: compat, provider: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", apiKeyEnv: K }
  - { name: azure, provider: azure-openai, baseUrl: "https://r.openai.azure.com", apiKeyEnv: K }
  - { name: anthropic, provider: anthropic, apiKeyEnv: K }
  - { name: gemini, provider: gemini, apiKeyEnv: K }
  - { name: vertex, provider: vertex, project: p, location: us-central1, accessTokenEnv: K }
  - { name: bedrock, provider: bedrock, region: us-east-1, apiKeyEnv: K }
  - { name: cohere, provider: cohere, apiKeyEnv: K }
routes: []
`);
  assert.ok(parsed.ok);
  const backends = resolveTopology(parsed.config, { K: 'secret' }).backends;
  const models: Record<string, string> = {
    anthropic: 'claude-sonnet-4-5',
    bedrock: 'amazon.nova-lite-v1:0',
    gemini: 'gemini-2.5-flash',
    vertex: 'gemini-2.5-flash',
    cohere: 'command-r-plus',
  };
  for (const [name, b] of backends) {
    test(name, () => {
      for (const kind of CANARY_KINDS)
        assert.equal(
          refusal(b, models[name] ?? 'gpt-4o-mini', canaryOfKind(kind, 'm', 32, 0.3).request),
          undefined,
          kind,
        );
    });
  }
});

let reply: (body: Record<string, unknown>) => Answer = () => text('');
let requests = 0;
let baseUrl = '';
let close: () => Promise<void>;

before(async () => {
  const upstream = await startCompletionUpstream((body) => {
    requests++;
    const { content, toolCalls } = reply(body);
    const message =
      toolCalls.length > 0
        ? {
            role: 'assistant',
            content: content || null,
            tool_calls: toolCalls.map((t, i) => ({
              id: `call_${i}`,
              type: 'function',
              function: { name: t.name, arguments: t.arguments },
            })),
          }
        : { role: 'assistant', content };
    return { status: 200, body: completion(message, toolCalls.length > 0 ? 'tool_calls' : 'stop') };
  });
  baseUrl = upstream.baseUrl;
  close = upstream.close;
});
after(() => close());

const backend = (compat = ''): ResolvedBackend => probedBackend(baseUrl, compat);

describe('probeOnce per kind (real translation)', () => {
  for (const kind of CANARY_KINDS) {
    test(`${kind}: the right answer passes every check, sent with the kind's request fields`, async () => {
      const c = canaryOfKind(kind, 'm', 32, 0.3);
      let sent: Record<string, unknown> = {};
      reply = (body) => {
        sent = body;
        return solve(c.request);
      };
      const results = await probeOnce(backend(), 'upstream-m', c, 2000);
      assert.ok(
        results.every((r) => r.pass),
        JSON.stringify(results),
      );
      assert.ok(results.some((r) => r.check === 'probe'));
      assert.equal(sent.model, 'upstream-m');
      if (kind === 'json_schema') assert.equal((sent.response_format as { type: string }).type, 'json_schema');
      if (kind === 'tool_call')
        assert.deepEqual(sent.tool_choice, { type: 'function', function: { name: PROBE_TOOL } });
    });
    for (const [name, bad] of BAD[kind]) {
      test(`${kind}: ${name} fails the probe`, async () => {
        const c = canaryOfKind(kind, 'm', 32, 0.3);
        reply = () => bad(c);
        const results = await probeOnce(backend(), 'upstream-m', c, 2000);
        assert.equal(results.find((r) => r.check === 'probe')?.pass, false, JSON.stringify(results));
      });
    }
  }
});

describe('a kind the provider refuses is skipped, not failed', () => {
  test('probeWithUsage sends nothing and returns no observation', async () => {
    const plain = canaryOfKind('arithmetic', 'm', 32, 0.3);
    const refused: Canary = { ...plain, request: { ...plain.request, n: 2 } };
    const b = backend(', compat: { maxN: 1 }');
    assert.match(refusal(b, 'upstream-m', refused.request) ?? '', /at most 1 choice/);
    const before = requests;
    const outcome = await probeWithUsage(b, 'upstream-m', refused, 2000);
    assert.equal(requests, before, 'nothing was sent');
    assert.deepEqual(outcome.results, []);
    assert.equal(outcome.answered, false);
    assert.match(outcome.skipped ?? '', /^arithmetic probe not supported: .*at most 1 choice/);
  });
});
