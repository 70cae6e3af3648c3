// A mock Google upstream for end-to-end tests that speaks ONLY Gemini's native format: the Gemini API
// (/v1beta/models/{m}:generateContent|streamGenerateContent, key in x-goog-api-key) and Vertex AI
// (/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:…, OAuth bearer token). It checks
// credentials, paths and request shape the way the real API does (unknown fields, role alternation of function
// calls and responses, Gemini 3 thought signatures) and answers in Google's formats, SSE framed with CRLF.
import http from 'node:http';
import { FinishReason, type GenerateContentResponse, type Part } from '@google/genai';
import { listenOnLoopback } from '../../src/testing/http.js';
import { isRecord } from '../../src/util/json.js';

type WireResponse = Pick<
  GenerateContentResponse,
  'candidates' | 'promptFeedback' | 'usageMetadata' | 'modelVersion' | 'responseId'
>;

export interface ReceivedGeminiRequest {
  readonly api: 'gemini' | 'vertex';
  readonly path: string;
  readonly model: string;
  readonly method: 'generateContent' | 'streamGenerateContent';
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface MockFailure {
  readonly status: number;
  readonly body: unknown;
}

export interface MockGemini {
  /** Base URL for `provider: gemini` (includes /v1beta). */
  readonly geminiBaseUrl: string;
  /** Base URL for `provider: vertex` (the host; the version is part of the path). */
  readonly vertexBaseUrl: string;
  readonly received: ReceivedGeminiRequest[];
  /** Answer every request with this error until cleared. */
  failWith: MockFailure | undefined;
  /** Bearer tokens Vertex accepts. */
  readonly vertexTokens: Set<string>;
  close(): Promise<void>;
}

export const MOCK_TEXT = 'Paris is the capital of France.';
export const MOCK_JSON = { answer: 'Paris', confidence: 0.98 };
export const MOCK_USAGE = {
  promptTokenCount: 11,
  candidatesTokenCount: 7,
  thoughtsTokenCount: 3,
  cachedContentTokenCount: 4,
  totalTokenCount: 21,
};
/** The mock signs its function calls like Gemini 3 and insists on getting the signature back. */
export const MOCK_SIGNATURE = 'bW9jay1zaWduYXR1cmUvKz0=';
export const KNOWN_MODELS = new Set(['gemini-2.5-flash', 'gemini-2.5-pro']);

const TOP_LEVEL_FIELDS = new Set([
  'contents',
  'systemInstruction',
  'generationConfig',
  'tools',
  'toolConfig',
  'safetySettings',
  'cachedContent',
  'labels',
]);
const PART_DATA_FIELDS = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'];

const GEMINI_PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
const VERTEX_PATH =
  /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

class RequestProblem extends Error {
  constructor(
    readonly status: number,
    readonly grpcStatus: string,
    message: string,
  ) {
    super(message);
  }
}

function googleError(status: number, grpcStatus: string, message: string) {
  return { error: { code: status, message, status: grpcStatus } };
}

type Turn = { role: string; parts: Array<Record<string, unknown>> };

/** The checks Google applies that a translator most easily gets wrong. */
function validate(body: Record<string, unknown>): Turn[] {
  const invalid = (message: string) => new RequestProblem(400, 'INVALID_ARGUMENT', message);
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL_FIELDS.has(key))
      throw invalid(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  }
  if (!Array.isArray(body.contents) || body.contents.length === 0)
    throw invalid('* GenerateContentRequest.contents: contents is not specified');
  const turns = body.contents as Turn[];
  turns.forEach((turn, i) => {
    if (turn.role !== 'user' && turn.role !== 'model')
      throw invalid(`Please use a valid role: user, model. (contents[${i}])`);
    if (!Array.isArray(turn.parts) || turn.parts.length === 0)
      throw invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`);
    for (const part of turn.parts) {
      const fields = PART_DATA_FIELDS.filter((f) => part[f] !== undefined);
      if (fields.length !== 1)
        throw invalid(`* GenerateContentRequest.contents[${i}].parts: exactly one data field must be set`);
      if (part.text === '') throw invalid('Unable to submit request because it has an empty text parameter.');
      if (part.functionCall && turn.role !== 'model') throw invalid('functionCall parts belong to model turns');
      if (part.functionResponse && turn.role !== 'user') throw invalid('functionResponse parts belong to user turns');
      if (isRecord(part.functionCall) && !isRecord(part.functionCall.args))
        throw invalid('functionCall.args must be an object');
      if (isRecord(part.functionResponse) && !isRecord(part.functionResponse.response))
        throw invalid('functionResponse.response must be an object');
    }
    if (i > 0 && turns[i - 1]?.role === turn.role)
      throw invalid('Please ensure that multiturn requests alternate between user and model.');
    const calls = turn.parts.filter((p) => p.functionCall);
    if (calls.length > 0) {
      if (calls.some((p) => p.thoughtSignature !== MOCK_SIGNATURE)) {
        throw invalid(`Function call is missing a thought_signature in functionCall parts. (contents[${i}])`);
      }
      const responses = turns[i + 1]?.parts.filter((p) => p.functionResponse).length ?? 0;
      if (i + 1 < turns.length && responses !== calls.length) {
        throw invalid(
          'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
        );
      }
    }
  });
  if (isRecord(body.generationConfig) && 'response_mime_type' in body.generationConfig) {
    throw invalid(
      'Invalid JSON payload received. Unknown name "response_mime_type" at \'generation_config\': Cannot find field.',
    );
  }
  return turns;
}

interface Answer {
  parts: Part[];
  finishReason: FinishReason;
}

/** What the model "says": tool calls when tools are offered and no result came back yet; else text or JSON. */
function answer(body: Record<string, unknown>, turns: Turn[]): Answer {
  const lastTurn = turns.at(-1);
  const results = lastTurn?.parts.filter((p) => isRecord(p.functionResponse)) ?? [];
  if (results.length > 0) {
    const summary = results
      .map((p) => JSON.stringify((p.functionResponse as Record<string, unknown>).response))
      .join(' ');
    return { parts: [{ text: `Tool results received: ${summary}` }], finishReason: FinishReason.STOP };
  }
  const tools = Array.isArray(body.tools)
    ? (body.tools as Array<{ functionDeclarations?: Array<{ name: string }> }>)
    : [];
  const declared = tools.flatMap((t) => t.functionDeclarations ?? []).map((d) => d.name);
  const mode =
    isRecord(body.toolConfig) && isRecord(body.toolConfig.functionCallingConfig)
      ? body.toolConfig.functionCallingConfig.mode
      : 'AUTO';
  if (declared.length > 0 && mode !== 'NONE') {
    const [first, second] = declared;
    const parts: Part[] = [
      { functionCall: { name: first!, args: { city: 'Paris' } }, thoughtSignature: MOCK_SIGNATURE },
    ];
    if (second)
      parts.push({ functionCall: { name: second, args: { city: 'Tokyo' } }, thoughtSignature: MOCK_SIGNATURE });
    return { parts, finishReason: FinishReason.STOP };
  }
  const config = isRecord(body.generationConfig) ? body.generationConfig : {};
  if (config.responseMimeType === 'application/json')
    return { parts: [{ text: JSON.stringify(MOCK_JSON) }], finishReason: FinishReason.STOP };
  if (typeof config.maxOutputTokens === 'number' && config.maxOutputTokens < 5) {
    return { parts: [{ text: 'Paris' }], finishReason: FinishReason.MAX_TOKENS };
  }
  return { parts: [{ text: MOCK_TEXT }], finishReason: FinishReason.STOP };
}

function wholeResponse(reply: Answer, candidates: number, responseId: string): WireResponse {
  return {
    candidates: Array.from({ length: candidates }, (_, index) => ({
      content: { role: 'model', parts: reply.parts },
      finishReason: reply.finishReason,
      index,
    })),
    usageMetadata: MOCK_USAGE,
    modelVersion: 'gemini-2.5-flash-001',
    responseId,
  };
}

/** Text in word-sized pieces, each function call in its own event, then an empty text part with the finish. */
function streamEvents(reply: Answer, candidates: number, responseId: string): WireResponse[] {
  const pieces: Part[] = [];
  for (const part of reply.parts) {
    if (typeof part.text === 'string') pieces.push(...part.text.split(/(?<= )/).map((text) => ({ text })));
    else pieces.push(part);
  }
  const partial = { promptTokenCount: MOCK_USAGE.promptTokenCount, totalTokenCount: MOCK_USAGE.promptTokenCount };
  const events: WireResponse[] = pieces.map((part) => ({
    candidates: Array.from({ length: candidates }, (_, index) => ({
      content: { role: 'model', parts: [part] },
      index,
    })),
    usageMetadata: partial,
    modelVersion: 'gemini-2.5-flash-001',
    responseId,
  }));
  events.push({
    candidates: Array.from({ length: candidates }, (_, index) => ({
      content: { role: 'model', parts: [{ text: '' }] },
      finishReason: reply.finishReason,
      index,
    })),
    usageMetadata: MOCK_USAGE,
    modelVersion: 'gemini-2.5-flash-001',
    responseId,
  });
  return events;
}

export async function startMockGemini(options: { apiKey: string; vertexTokens?: string[] }): Promise<MockGemini> {
  const received: ReceivedGeminiRequest[] = [];
  const vertexTokens = new Set(options.vertexTokens ?? []);
  const state = { failWith: undefined as MockFailure | undefined, served: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? '/', 'http://mock');
      const gemini = GEMINI_PATH.exec(url.pathname);
      const vertex = VERTEX_PATH.exec(url.pathname);
      if (req.method !== 'POST' || (!gemini && !vertex))
        return send(
          404,
          googleError(404, 'NOT_FOUND', `The requested URL ${url.pathname} was not found on this server.`),
        );
      const api = gemini ? 'gemini' : 'vertex';
      const model = decodeURIComponent((gemini ? gemini[1] : vertex![4])!);
      const method = (gemini ? gemini[2] : vertex![5]) as ReceivedGeminiRequest['method'];
      let body: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!isRecord(parsed)) throw new Error('not an object');
        body = parsed;
      } catch {
        return send(400, googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'));
      }
      received.push({ api, path: req.url ?? '', model, method, headers: req.headers, body });

      // Credentials, as each API checks them (a bad Gemini key is a 400 with reason API_KEY_INVALID).
      if (api === 'gemini' && req.headers['x-goog-api-key'] !== options.apiKey) {
        return send(400, {
          error: {
            code: 400,
            message: 'API key not valid. Please pass a valid API key.',
            status: 'INVALID_ARGUMENT',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                reason: 'API_KEY_INVALID',
                domain: 'googleapis.com',
              },
            ],
          },
        });
      }
      if (api === 'vertex') {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!token || !vertexTokens.has(token))
          return send(401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'));
      }
      if (state.failWith) return send(state.failWith.status, state.failWith.body);
      if (!KNOWN_MODELS.has(model)) {
        return send(
          404,
          googleError(
            404,
            'NOT_FOUND',
            `Publisher Model \`${model}\` was not found or your project does not have access to it.`,
          ),
        );
      }
      let turns: Turn[];
      try {
        turns = validate(body);
      } catch (err) {
        if (err instanceof RequestProblem)
          return send(err.status, googleError(err.status, err.grpcStatus, err.message));
        throw err;
      }
      const reply = answer(body, turns);
      const config = isRecord(body.generationConfig) ? body.generationConfig : {};
      const candidates = typeof config.candidateCount === 'number' ? config.candidateCount : 1;
      const responseId = `mock-${++state.served}`;
      if (method === 'generateContent') return send(200, wholeResponse(reply, candidates, responseId));
      const events = streamEvents(reply, candidates, responseId);
      if (url.searchParams.get('alt') !== 'sse') {
        // Without alt=sse Google streams one JSON array, which an SSE reader cannot use.
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
        return res.end(JSON.stringify(events));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (i >= events.length) return res.end();
        res.write(`data: ${JSON.stringify(events[i++])}\r\n\r\n`);
        setImmediate(next);
      };
      next();
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    geminiBaseUrl: `http://127.0.0.1:${port}/v1beta`,
    vertexBaseUrl: `http://127.0.0.1:${port}`,
    received,
    vertexTokens,
    get failWith() {
      return state.failWith;
    },
    set failWith(value) {
      state.failWith = value;
    },
    close,
  };
}
