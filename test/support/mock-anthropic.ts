// A mock Anthropic Messages API for end-to-end tests. It speaks ONLY Anthropic's native format and checks requests
// the way the real API does (path, x-api-key, anthropic-version, required and unknown fields, roles, tool pairing,
// version-specific sampling rules), answering violations with Anthropic-shaped errors. Replies are JSON Messages
// or SSE streams (named events, ping, text and input_json deltas), written in small pieces so the gateway sees
// events — and UTF-8 characters — cut across network chunks. Event shapes are typed with the official SDK's types.
import http from 'node:http';
import type {
  ContentBlock,
  Message,
  RawMessageStreamEvent,
  StopReason,
  Usage,
} from '@anthropic-ai/sdk/resources/messages';
import { usage } from '../../src/providers/anthropic/fixtures.js';
import { listenOnLoopback } from '../../src/testing/http.js';
import { isRecord } from '../../src/util/json.js';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export type ReplyBlock =
  { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface ScriptedReply {
  readonly content: readonly ReplyBlock[];
  readonly stopReason: StopReason;
  readonly usage?: { input: number; output: number; cacheRead?: number; cacheCreation?: number };
}

export interface ScriptedFailure {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

export interface MockAnthropic {
  readonly baseUrl: string;
  readonly received: ReceivedRequest[];
  /** Reply to the next requests with this instead of the default (cleared with undefined). */
  reply: ScriptedReply | undefined;
  /** Fail the next requests with this Anthropic error. */
  failWith: ScriptedFailure | undefined;
  /** Streams break off with an `event: error` (overloaded) after the first delta. */
  streamError: boolean;
  close(): Promise<void>;
}

export const CLAUDE_TEXT = 'Hello from Claude — ünïcödé 👋🏽.';
export const DEFAULT_USAGE = { input: 30, output: 12, cacheRead: 200, cacheCreation: 10 };
export const JSON_ANSWER = { answer: 42, unit: 'none' };
const VERSIONS = new Set(['2023-06-01', '2026-10-21']);
const KNOWN_FIELDS = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'stop_sequences',
  'temperature',
  'top_p',
  'top_k',
  'metadata',
  'tools',
  'tool_choice',
  'output_config',
  'stream',
  'thinking',
  'service_tier',
  'container',
  'cache_control',
]);
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

class InvalidRequest extends Error {}

function contentBlock(block: ReplyBlock): ContentBlock {
  return block.type === 'text'
    ? { type: 'text', text: block.text, citations: null }
    : { ...block, caller: { type: 'direct' } };
}

function messageOf(
  id: string,
  model: string,
  content: ContentBlock[],
  stopReason: StopReason | null,
  usage: Usage,
): Message {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage,
  };
}

type Json = Record<string, unknown>;

function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** A message's content as blocks (a string is shorthand for one text block). */
function blocksOf(message: Json): Json[] | undefined {
  if (typeof message.content === 'string') return [{ type: 'text', text: message.content }];
  return Array.isArray(message.content) && message.content.every(isRecord) ? message.content : undefined;
}

function validateSampling(body: Json, version: string): void {
  if (version >= '2026-10-21') {
    for (const key of ['temperature', 'top_p', 'top_k'])
      if (key in body) throw new InvalidRequest(`${key}: Extra inputs are not permitted`);
    return;
  }
  const temperature = body.temperature;
  if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0 && temperature <= 1)) {
    throw new InvalidRequest('temperature: Input should be less than or equal to 1');
  }
}

function validateMessages(messages: Json[]): void {
  if (messages.length === 0) throw new InvalidRequest('messages: at least one message is required');
  if (messages[0]?.role !== 'user') throw new InvalidRequest('messages: first message must use the "user" role');
  let pendingToolUses: unknown[] = [];
  messages.forEach((message, i) => {
    if (message.role !== 'user' && message.role !== 'assistant')
      throw new InvalidRequest(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    const blocks = blocksOf(message);
    if (!blocks || blocks.length === 0)
      throw new InvalidRequest(`messages.${i}: all messages must have non-empty content`);
    if (pendingToolUses.length > 0) {
      const results = blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id);
      if (message.role !== 'user' || pendingToolUses.some((id) => !results.includes(id))) {
        throw new InvalidRequest(
          `messages.${i}: tool_use ids were found without tool_result blocks immediately after: ${pendingToolUses.join(', ')}`,
        );
      }
      const firstOther = blocks.findIndex((b) => b.type !== 'tool_result');
      if (firstOther !== -1 && blocks.slice(firstOther).some((b) => b.type === 'tool_result')) {
        throw new InvalidRequest(`messages.${i}: tool_result blocks must come first in the content`);
      }
    }
    pendingToolUses = [];
    blocks.forEach((block, j) => {
      if (block.type === 'text' && (typeof block.text !== 'string' || block.text.trim() === '')) {
        throw new InvalidRequest(
          `messages.${i}.content.${j}.text: text content blocks must contain non-whitespace text`,
        );
      }
      if (block.type === 'tool_use') {
        if (
          message.role !== 'assistant' ||
          typeof block.id !== 'string' ||
          !TOOL_ID.test(block.id) ||
          !isRecord(block.input)
        ) {
          throw new InvalidRequest(`messages.${i}.content.${j}: invalid tool_use block`);
        }
        pendingToolUses.push(block.id);
      }
      if (block.type === 'tool_result' && message.role !== 'user')
        throw new InvalidRequest(`messages.${i}.content.${j}: tool_result blocks belong in user messages`);
      const source = block.source;
      if (block.type === 'image' && !(isRecord(source) && (source.type === 'base64' || source.type === 'url'))) {
        throw new InvalidRequest(`messages.${i}.content.${j}.source: invalid image source`);
      }
    });
  });
}

/** The checks the real API applies that a translator could get wrong. */
function validate(body: Json, version: string): void {
  for (const key of Object.keys(body))
    if (!KNOWN_FIELDS.has(key)) throw new InvalidRequest(`${key}: Extra inputs are not permitted`);
  if (typeof body.model !== 'string') throw new InvalidRequest('model: Field required');
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1)
    throw new InvalidRequest('max_tokens: Field required');
  validateSampling(body, version);
  if (body.system !== undefined && typeof body.system !== 'string') {
    if (
      !Array.isArray(body.system) ||
      !body.system.every((b: unknown) => isRecord(b) && b.type === 'text' && typeof b.text === 'string')
    ) {
      throw new InvalidRequest('system: Input should be a valid string or a list of text blocks');
    }
  }
  if (!Array.isArray(body.messages)) throw new InvalidRequest('messages: Field required');
  validateMessages(objects(body.messages));
  const choice = isRecord(body.tool_choice) ? body.tool_choice : undefined;
  const toolNames = objects(body.tools).map((t) => t.name);
  if (choice && choice.type !== 'none' && toolNames.length === 0)
    throw new InvalidRequest('tool_choice: may only be specified while providing tools');
  if (choice?.type === 'tool' && !toolNames.includes(choice.name))
    throw new InvalidRequest(`tool_choice.name: tool '${String(choice.name)}' not found in tools`);
}

/** Without a script: a forced tool gets JSON_ANSWER, a json_schema format gets it as text, else CLAUDE_TEXT. */
function defaultReply(body: Json): ScriptedReply {
  const choice = isRecord(body.tool_choice) ? body.tool_choice : undefined;
  if (choice?.type === 'tool' && typeof choice.name === 'string') {
    return {
      content: [{ type: 'tool_use', id: 'toolu_01Forced', name: choice.name, input: JSON_ANSWER }],
      stopReason: 'tool_use',
    };
  }
  const format = isRecord(body.output_config) ? body.output_config.format : undefined;
  if (isRecord(format) && format.type === 'json_schema')
    return { content: [{ type: 'text', text: JSON.stringify(JSON_ANSWER) }], stopReason: 'end_turn' };
  return { content: [{ type: 'text', text: CLAUDE_TEXT }], stopReason: 'end_turn' };
}

/** Cuts a string into `parts` roughly equal pieces (by code point, as Anthropic's deltas are text). */
function pieces(text: string, parts: number): string[] {
  const chars = [...text];
  const size = Math.max(1, Math.ceil(chars.length / parts));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out;
}

function streamEvents(
  id: string,
  model: string,
  reply: ScriptedReply,
  breakOff: boolean,
): Array<RawMessageStreamEvent | { type: 'ping' } | { type: 'error'; error: { type: string; message: string } }> {
  const counts = reply.usage ?? DEFAULT_USAGE;
  const events: Array<
    RawMessageStreamEvent | { type: 'ping' } | { type: 'error'; error: { type: string; message: string } }
  > = [
    { type: 'message_start', message: messageOf(id, model, [], null, usage({ ...counts, output: 1 })) },
    { type: 'ping' },
  ];
  reply.content.forEach((block, index) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } });
      for (const text of pieces(block.text, 3))
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    } else {
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {}, caller: { type: 'direct' } },
      });
      for (const partial_json of pieces(JSON.stringify(block.input), 3))
        events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
    }
    if (breakOff && index === 0)
      events.push({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    events.push({ type: 'content_block_stop', index });
  });
  events.push({
    type: 'message_delta',
    delta: { stop_reason: reply.stopReason, stop_sequence: null, stop_details: null, container: null },
    usage: {
      input_tokens: counts.input,
      output_tokens: counts.output,
      cache_read_input_tokens: counts.cacheRead ?? 0,
      cache_creation_input_tokens: counts.cacheCreation ?? 0,
      output_tokens_details: null,
      server_tool_use: null,
    },
  });
  events.push({ type: 'message_stop' });
  if (breakOff) events.splice(events.findIndex((e) => e.type === 'error') + 1);
  return events;
}

export async function startMockAnthropic(options: { apiKey: string }): Promise<MockAnthropic> {
  const received: ReceivedRequest[] = [];
  const state = {
    reply: undefined as ScriptedReply | undefined,
    failWith: undefined as ScriptedFailure | undefined,
    streamError: false,
  };
  let sequence = 0;
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const requestId = `req_mock${++sequence}`;
      const error = (status: number, type: string, message: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers });
        res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId }));
      };
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(parts).toString() || '{}');
      } catch {
        return error(400, 'invalid_request_error', 'There was an issue with the request body: not JSON');
      }
      const body: Json = isRecord(parsed) ? parsed : {};
      received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      if (req.method !== 'POST' || req.url !== '/v1/messages')
        return error(404, 'not_found_error', `Not found: ${req.method} ${req.url}`);
      if (req.headers['x-api-key'] !== options.apiKey) return error(401, 'authentication_error', 'invalid x-api-key');
      const version = String(req.headers['anthropic-version'] ?? '');
      if (!VERSIONS.has(version))
        return error(400, 'invalid_request_error', 'anthropic-version: header is required and must be a known version');
      try {
        validate(body, version);
      } catch (err) {
        if (err instanceof InvalidRequest) return error(400, 'invalid_request_error', err.message);
        throw err;
      }
      if (state.failWith)
        return error(state.failWith.status, state.failWith.type, state.failWith.message, state.failWith.headers);

      const reply = state.reply ?? defaultReply(body);
      const id = `msg_mock${sequence}`;
      const model = String(body.model);
      if (body.stream !== true) {
        const message = messageOf(
          id,
          model,
          reply.content.map(contentBlock),
          reply.stopReason,
          usage(reply.usage ?? DEFAULT_USAGE),
        );
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
        return res.end(JSON.stringify(message));
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'request-id': requestId,
      });
      const bytes = Buffer.from(
        streamEvents(id, model, reply, state.streamError)
          .map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`)
          .join(''),
      );
      // Small writes on separate ticks: events and multi-byte characters arrive cut across chunks.
      let offset = 0;
      const next = () => {
        if (res.destroyed) return;
        if (offset >= bytes.length) return res.end();
        res.write(bytes.subarray(offset, offset + 37));
        offset += 37;
        setImmediate(next);
      };
      next();
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    get reply() {
      return state.reply;
    },
    set reply(v) {
      state.reply = v;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    get streamError() {
      return state.streamError;
    },
    set streamError(v) {
      state.streamError = v;
    },
    close,
  };
}
