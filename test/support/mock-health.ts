// A small OpenAI-compatible mock for the semantic-health e2e test: answers canary probes correctly (sums, echoed
// words, JSON objects with the asked keys, json_schema objects with the asked values, forced tool calls with the
// asked arguments) and everything else with a normal sentence, until told to misbehave: 'empty' (200 with empty
// content and no tool call), 'degenerate' (200 with one sentence looped), 'invalid-json' (prose where JSON was
// asked, malformed arguments where a tool call was forced). Whole bodies and SSE streams alike.
import http from 'node:http';
import { listenOnLoopback } from '../../src/testing/http.js';

export type MockMode = 'ok' | 'empty' | 'degenerate' | 'invalid-json';

export interface MockHealthBackend {
  readonly baseUrl: string;
  mode: MockMode;
  /** Requests whose last user message was exactly `marker` (client traffic, as opposed to probes). */
  traffic(marker: string): number;
  readonly probes: number;
  close(): Promise<void>;
}

const LOOP = 'I am sorry, but I cannot help with that request. '.repeat(40);

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<Record<string, unknown>>) : [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
}

interface Answer {
  readonly content: string;
  readonly toolCalls?: ReadonlyArray<{ readonly name: string; readonly arguments: string }>;
}

/** The tool a request forces with tool_choice { type: function, function: { name } }, if any. */
function forcedTool(body: Record<string, unknown>): string | undefined {
  const choice = body.tool_choice as { type?: string; function?: { name?: unknown } } | undefined;
  return choice?.type === 'function' && typeof choice.function?.name === 'string' ? choice.function.name : undefined;
}

function answer(body: Record<string, unknown>, mode: MockMode): Answer {
  const text = lastUserText(body);
  const format = (body.response_format as { type?: string } | undefined)?.type;
  const tool = forcedTool(body);
  if (mode === 'empty') return { content: '' };
  if (mode === 'degenerate') return { content: LOOP };
  if (tool !== undefined) {
    if (mode === 'invalid-json') return { content: '', toolCalls: [{ name: tool, arguments: '{"a": 1,' }] };
    const numbers = /a = (-?\d+) and b = (-?\d+)/.exec(text);
    return {
      content: '',
      toolCalls: [
        { name: tool, arguments: JSON.stringify({ a: Number(numbers?.[1] ?? 0), b: Number(numbers?.[2] ?? 0) }) },
      ],
    };
  }
  if (format === 'json_schema') {
    if (mode === 'invalid-json') return { content: 'Sure! Here is your object: a word and a number.' };
    const asked = /"word" set to "(\w+)" and "number" set to (-?\d+)/.exec(text);
    return { content: JSON.stringify({ word: asked?.[1] ?? 'probe', number: Number(asked?.[2] ?? 1) }) };
  }
  if (format === 'json_object')
    return {
      content: mode === 'invalid-json' ? 'Sure! Here is your object: name and count.' : '{"name":"probe","count":1}',
    };
  const sum = /What is (\d+) \+ (\d+)\?/.exec(text);
  if (sum) return { content: String(Number(sum[1]) + Number(sum[2])) };
  const echo = /Reply with exactly this word and nothing else: (\w+)/.exec(text);
  if (echo) return { content: echo[1] ?? '' };
  return { content: 'Hello from a healthy mock backend.' };
}

export async function startMockHealthBackend(): Promise<MockHealthBackend> {
  const texts: string[] = [];
  let probes = 0;
  let mode: MockMode = 'ok';
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString() || '{}') as Record<string, unknown>;
      const text = lastUserText(body);
      texts.push(text);
      // Probes come straight from the service, client traffic through Envoy (which adds x-request-id).
      if (req.headers['x-request-id'] === undefined) probes++;
      const model = String(body.model);
      const { content, toolCalls = [] } = answer(body, mode);
      const produced = content.length + toolCalls.reduce((n, t) => n + t.name.length + t.arguments.length, 0);
      const usage = {
        prompt_tokens: 10,
        completion_tokens: Math.ceil(produced / 4),
        total_tokens: 10 + Math.ceil(produced / 4),
      };
      const calls = toolCalls.map((t, i) => ({
        id: `call_${i}`,
        type: 'function',
        function: { name: t.name, arguments: t.arguments },
      }));
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const message =
          calls.length > 0
            ? { role: 'assistant', content: content || null, tool_calls: calls }
            : { role: 'assistant', content };
        res.end(
          JSON.stringify({
            id: 'chatcmpl-h',
            object: 'chat.completion',
            created: 1,
            model,
            choices: [{ index: 0, message, finish_reason: 'stop' }],
            usage,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-h', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      let out = chunk({ role: 'assistant', content: '' }, null);
      for (const piece of content.match(/.{1,40}/gs) ?? []) out += chunk({ content: piece }, null);
      for (const [index, call] of calls.entries()) out += chunk({ tool_calls: [{ index, ...call }] }, null);
      out += chunk({}, 'stop') + 'data: [DONE]\n\n';
      res.end(out);
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get mode() {
      return mode;
    },
    set mode(m) {
      mode = m;
    },
    traffic: (marker) => texts.filter((t) => t === marker).length,
    get probes() {
      return probes;
    },
    close,
  };
}
