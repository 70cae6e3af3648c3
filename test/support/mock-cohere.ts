// A mock Cohere v2 Chat upstream for end-to-end tests. It speaks only Cohere's native format: POST /v2/chat with a
// Bearer key, snake_case V2ChatRequest fields (anything else is a 400, as a strict API would answer), a V2ChatResponse
// or a typed SSE stream back, and `{"message": …}` errors.
import http from 'node:http';
import { listenOnLoopback } from '../../src/testing/http.js';

export interface ReceivedCohereRequest {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface MockCohere {
  readonly baseUrl: string;
  readonly received: ReceivedCohereRequest[];
  close(): Promise<void>;
}

export const COHERE_TEXT = 'Hello from the mock Cohere.';
/** A user message with this text gets a 429 with retry-after. */
export const COHERE_RATE_LIMIT_PROMPT = 'please rate-limit me';

const REQUEST_FIELDS = new Set([
  'model',
  'messages',
  'stream',
  'tools',
  'strict_tools',
  'documents',
  'citation_options',
  'response_format',
  'safety_mode',
  'max_tokens',
  'stop_sequences',
  'temperature',
  'seed',
  'frequency_penalty',
  'presence_penalty',
  'k',
  'p',
  'logprobs',
  'tool_choice',
  'thinking',
  'priority',
]);
const ROLES = new Set(['system', 'user', 'assistant', 'tool']);
const USAGE = {
  billed_units: { input_tokens: 8, output_tokens: 6 },
  tokens: { input_tokens: 80, output_tokens: 6 },
  cached_tokens: 16,
};

type Json = Record<string, unknown>;

function problem(body: Json): string | undefined {
  for (const key of Object.keys(body)) if (!REQUEST_FIELDS.has(key)) return `invalid request: unknown field '${key}'`;
  if (typeof body.model !== 'string') return 'invalid request: model is required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'invalid request: messages is required';
  for (const m of body.messages as Json[]) {
    if (!ROLES.has(String(m.role))) return `invalid request: unknown role '${String(m.role)}'`;
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string')
      return 'invalid request: tool messages need tool_call_id';
  }
  if (body.tool_choice !== undefined && body.tool_choice !== 'REQUIRED' && body.tool_choice !== 'NONE')
    return 'invalid request: tool_choice must be REQUIRED or NONE';
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 5)
    return 'invalid request: stop_sequences can have at most 5 items';
  return undefined;
}

function lastUserText(messages: Json[]): string {
  const last = messages.at(-1);
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return Array.isArray(last.content)
    ? (last.content as Json[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join('')
    : '';
}

/** The answer, in V2ChatResponse terms, for a request: a tool call, a tool-informed answer, JSON, or text. */
function answer(body: Json): {
  finish: string;
  text?: string;
  plan?: string;
  calls?: Array<{ id: string; name: string; arguments: string }>;
} {
  const messages = body.messages as Json[];
  const last = messages.at(-1);
  const tools = (body.tools as Array<{ function: { name: string } }> | undefined) ?? [];
  if (last?.role === 'tool') return { finish: 'COMPLETE', text: `The tool said: ${lastUserText(messages)}` };
  if (tools.length > 0 && body.tool_choice !== 'NONE') {
    return {
      finish: 'TOOL_CALL',
      plan: 'I will call the tool.',
      calls: [
        { id: `${tools[0]!.function.name}_k2j4h6g8f0d1`, name: tools[0]!.function.name, arguments: '{"city":"Paris"}' },
      ],
    };
  }
  if ((body.response_format as Json | undefined)?.type === 'json_object')
    return { finish: 'COMPLETE', text: '{"answer":42}' };
  return { finish: 'COMPLETE', text: COHERE_TEXT };
}

function whole(id: string, a: ReturnType<typeof answer>): Json {
  const message: Json = { role: 'assistant' };
  if (a.text !== undefined) message.content = [{ type: 'text', text: a.text }];
  if (a.plan !== undefined) message.tool_plan = a.plan;
  if (a.calls)
    message.tool_calls = a.calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
  return { id, finish_reason: a.finish, message, usage: USAGE };
}

function streamEvents(id: string, a: ReturnType<typeof answer>): Json[] {
  const events: Json[] = [
    {
      type: 'message-start',
      id,
      delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
    },
  ];
  if (a.plan !== undefined)
    for (const word of a.plan.split(/(?<= )/))
      events.push({ type: 'tool-plan-delta', delta: { message: { tool_plan: word } } });
  (a.calls ?? []).forEach((call, index) => {
    events.push({
      type: 'tool-call-start',
      index,
      delta: {
        message: { tool_calls: { id: call.id, type: 'function', function: { name: call.name, arguments: '' } } },
      },
    });
    for (let i = 0; i < call.arguments.length; i += 5) {
      events.push({
        type: 'tool-call-delta',
        index,
        delta: { message: { tool_calls: { function: { arguments: call.arguments.slice(i, i + 5) } } } },
      });
    }
    events.push({ type: 'tool-call-end', index });
  });
  if (a.text !== undefined) {
    events.push({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } });
    for (const word of a.text.split(/(?<= )/))
      events.push({ type: 'content-delta', index: 0, delta: { message: { content: { text: word } } } });
    events.push({ type: 'content-end', index: 0 });
  }
  events.push({ type: 'message-end', delta: { finish_reason: a.finish, usage: USAGE } });
  return events;
}

export async function startMockCohere(apiKey: string): Promise<MockCohere> {
  const received: ReceivedCohereRequest[] = [];
  let counter = 0;
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify({ id: `err-${++counter}`, message }));
      };
      let body: Json;
      try {
        body = JSON.parse(Buffer.concat(parts).toString()) as Json;
      } catch {
        return fail(400, 'invalid request: body is not JSON');
      }
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.method !== 'POST' || req.url !== '/v2/chat') return fail(404, `no route ${req.method} ${req.url}`);
      if (req.headers.authorization !== `Bearer ${apiKey}`) return fail(401, 'invalid api token');
      const invalid = problem(body);
      if (invalid) return fail(400, invalid);
      if (lastUserText(body.messages as Json[]) === COHERE_RATE_LIMIT_PROMPT) {
        return fail(429, 'You are using a Trial key, which is limited to 10 API calls / minute.', {
          'retry-after': '7',
        });
      }
      const id = `0d3f9a52-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
      const a = answer(body);
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(whole(id, a)));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const events = streamEvents(id, a);
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (i >= events.length) return res.end();
        const event = events[i++]!;
        res.write(`event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`);
        setImmediate(next);
      };
      next();
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}/v2`,
    received,
    close,
  };
}
