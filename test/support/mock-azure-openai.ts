// A mock Azure OpenAI resource for end-to-end tests. It answers only where Azure does: POST
// /openai/deployments/{deployment}/chat/completions?api-version=… with an `api-key` header, and adds Azure's
// content-filter annotations (prompt_filter_results, the filter-only first stream chunk, per-choice results).
// A prompt containing "forbidden" is refused with Azure's content_filter error.
import http from 'node:http';
import { listenOnLoopback } from '../../src/testing/http.js';

export interface ReceivedAzureRequest {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface MockAzureOpenAI {
  readonly baseUrl: string;
  readonly received: ReceivedAzureRequest[];
  close(): Promise<void>;
}

export const AZURE_TEXT = 'Hello from the mock Azure deployment.';
const SAFE = {
  hate: { filtered: false, severity: 'safe' },
  self_harm: { filtered: false, severity: 'safe' },
  sexual: { filtered: false, severity: 'safe' },
  violence: { filtered: false, severity: 'safe' },
};
const USAGE = {
  prompt_tokens: 14,
  completion_tokens: 8,
  total_tokens: 22,
  prompt_tokens_details: { cached_tokens: 0 },
};

type Json = Record<string, unknown>;

function promptText(body: Json): string {
  return JSON.stringify(body.messages ?? []);
}

function message(body: Json): Json {
  const tools = body.tools as Array<{ function: { name: string } }> | undefined;
  if (tools?.length && body.tool_choice !== 'none' && !promptText(body).includes('"role":"tool"')) {
    return {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_az1',
          type: 'function',
          function: { name: tools[0]!.function.name, arguments: '{"city":"Paris"}' },
        },
      ],
    };
  }
  if ((body.response_format as Json | undefined)?.type === 'json_object')
    return { role: 'assistant', content: '{"answer":42}' };
  return { role: 'assistant', content: AZURE_TEXT };
}

export async function startMockAzureOpenAI(options: {
  apiKey: string;
  deployment: string;
  apiVersion: string;
}): Promise<MockAzureOpenAI> {
  const received: ReceivedAzureRequest[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(parts).toString();
      const body = (raw ? JSON.parse(raw) : {}) as Json;
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const error = (status: number, payload: Json, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'apim-request-id': 'b1c2d3e4', ...headers });
        res.end(JSON.stringify({ error: payload }));
      };
      const url = new URL(req.url ?? '/', 'http://azure.invalid');
      if (req.headers['api-key'] !== options.apiKey) {
        return error(401, {
          code: '401',
          message: 'Access denied due to invalid subscription key or wrong API endpoint.',
        });
      }
      if (req.method !== 'POST' || url.pathname !== `/openai/deployments/${options.deployment}/chat/completions`) {
        return error(404, {
          code: 'DeploymentNotFound',
          message: 'The API deployment for this resource does not exist.',
        });
      }
      if (url.searchParams.get('api-version') !== options.apiVersion) {
        return error(404, { code: '404', message: 'Resource not found' });
      }
      if (promptText(body).includes('forbidden')) {
        return error(400, {
          message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
          type: null,
          param: 'prompt',
          code: 'content_filter',
          status: 400,
          innererror: {
            code: 'ResponsibleAIPolicyViolation',
            content_filter_result: { ...SAFE, violence: { filtered: true, severity: 'high' } },
          },
        });
      }
      const reply = message(body);
      const finish = reply.tool_calls ? 'tool_calls' : 'stop';
      const base = {
        id: 'chatcmpl-az',
        created: 1_718_000_000,
        model: 'gpt-4o-2024-08-06',
        system_fingerprint: 'fp_az',
      };
      if (body.stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json', 'apim-request-id': 'b1c2d3e4' });
        return res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            prompt_filter_results: [{ prompt_index: 0, content_filter_results: SAFE }],
            choices: [
              {
                index: 0,
                message: { ...reply, refusal: null },
                finish_reason: finish,
                logprobs: null,
                content_filter_results: SAFE,
              },
            ],
            usage: USAGE,
          }),
        );
      }
      const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
      const chunk = (delta: Json, finishReason: string | null) => ({
        ...base,
        object: 'chat.completion.chunk',
        choices: [
          {
            index: 0,
            delta,
            finish_reason: finishReason,
            logprobs: null,
            content_filter_results: finishReason ? {} : SAFE,
          },
        ],
        ...(includeUsage ? { usage: null } : {}),
      });
      const events: Json[] = [
        {
          choices: [],
          created: 0,
          id: '',
          model: '',
          object: '',
          prompt_filter_results: [{ prompt_index: 0, content_filter_results: SAFE }],
        },
      ];
      events.push(chunk({ role: 'assistant', content: '', refusal: null }, null));
      if (Array.isArray(reply.tool_calls)) {
        const call = reply.tool_calls[0] as { id: string; function: { name: string; arguments: string } };
        events.push(
          chunk(
            {
              tool_calls: [
                { index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
              ],
            },
            null,
          ),
        );
        events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: call.function.arguments } }] }, null));
      } else {
        for (const word of String(reply.content).split(/(?<= )/)) events.push(chunk({ content: word }, null));
      }
      events.push(chunk({}, finish));
      if (includeUsage) events.push({ ...base, object: 'chat.completion.chunk', choices: [], usage: USAGE });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'apim-request-id': 'b1c2d3e4' });
      res.end(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n');
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    received,
    close,
  };
}
