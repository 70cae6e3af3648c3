// Test data only: Gemini responses written from Google's documented format and typed with the official SDK's
// types (@google/genai, a dev dependency), so a field this gateway misreads cannot also be misspelt here.
import { BlockedReason, FinishReason, type GenerateContentResponse } from '@google/genai';

/** The data fields of a response as they appear on the wire (the SDK class adds getters). */
export type WireResponse = Pick<
  GenerateContentResponse,
  'candidates' | 'promptFeedback' | 'usageMetadata' | 'modelVersion' | 'responseId'
>;

export interface WireError {
  error: { code: number; message: string; status: string; details?: Array<Record<string, unknown>> };
}

/** Gemini frames SSE events with CRLF line ends. */
export function sse(events: ReadonlyArray<WireResponse | WireError>): string {
  return events.map((event) => `data: ${JSON.stringify(event)}\r\n\r\n`).join('');
}

const MODEL_VERSION = 'gemini-2.5-flash';

export const TEXT_RESPONSE: WireResponse = {
  candidates: [
    {
      content: { role: 'model', parts: [{ text: 'The capital of France is Paris.' }] },
      finishReason: FinishReason.STOP,
      index: 0,
      avgLogprobs: -0.05,
    },
  ],
  usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 8, totalTokenCount: 17 },
  modelVersion: MODEL_VERSION,
  responseId: 'resp-text-1',
};

/** Two parallel calls after a short text, with thinking and a cache hit in the usage. */
export const TOOL_CALL_RESPONSE: WireResponse = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [
          { text: 'Let me check both cities.' },
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } },
            thoughtSignature: 'c2lnbmF0dXJlLW9uZQ==',
          },
          { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } } },
        ],
      },
      finishReason: FinishReason.STOP,
      index: 0,
    },
  ],
  usageMetadata: {
    promptTokenCount: 120,
    cachedContentTokenCount: 100,
    candidatesTokenCount: 30,
    thoughtsTokenCount: 50,
    toolUsePromptTokenCount: 5,
    totalTokenCount: 205,
  },
  modelVersion: MODEL_VERSION,
  responseId: 'resp-tool-1',
};

export const TWO_CANDIDATES_RESPONSE: WireResponse = {
  candidates: [
    { content: { role: 'model', parts: [{ text: 'Heads.' }] }, finishReason: FinishReason.STOP, index: 0 },
    {
      content: { role: 'model', parts: [{ text: 'Tails, and then some' }] },
      finishReason: FinishReason.MAX_TOKENS,
      index: 1,
    },
  ],
  usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 9, totalTokenCount: 14 },
  modelVersion: MODEL_VERSION,
  responseId: 'resp-n-2',
};

export const BLOCKED_PROMPT_RESPONSE: WireResponse = {
  promptFeedback: { blockReason: BlockedReason.PROHIBITED_CONTENT },
  usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
  modelVersion: MODEL_VERSION,
  responseId: 'resp-blocked-1',
};

export function finishedWith(reason: FinishReason, parts: Array<{ text: string }> = []): WireResponse {
  return {
    candidates: [{ content: { role: 'model', parts }, finishReason: reason, index: 0 }],
    usageMetadata: { promptTokenCount: 4, candidatesTokenCount: parts.length, totalTokenCount: 4 + parts.length },
    modelVersion: MODEL_VERSION,
    responseId: `resp-${reason.toLowerCase()}`,
  };
}

/** A thinking model with includeThoughts: thought parts are reasoning summaries, not the answer. */
export const THOUGHT_PARTS_RESPONSE: WireResponse = {
  candidates: [
    {
      content: { role: 'model', parts: [{ text: 'Considering the question…', thought: true }, { text: '42' }] },
      finishReason: FinishReason.STOP,
      index: 0,
    },
  ],
  usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1, thoughtsTokenCount: 12, totalTokenCount: 16 },
  responseId: 'resp-thought-1',
};

// Streams: each event is a whole GenerateContentResponse; usageMetadata repeats and grows.

export const TEXT_STREAM: WireResponse[] = [
  {
    candidates: [{ content: { role: 'model', parts: [{ text: 'The capital' }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
    modelVersion: MODEL_VERSION,
    responseId: 'resp-stream-1',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ text: ' of France is “Paris”.' }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
    modelVersion: MODEL_VERSION,
    responseId: 'resp-stream-1',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: FinishReason.STOP, index: 0 }],
    usageMetadata: {
      promptTokenCount: 9,
      candidatesTokenCount: 8,
      thoughtsTokenCount: 4,
      cachedContentTokenCount: 2,
      totalTokenCount: 21,
    },
    modelVersion: MODEL_VERSION,
    responseId: 'resp-stream-1',
  },
];

export const TOOL_CALL_STREAM: WireResponse[] = [
  {
    candidates: [
      {
        content: {
          role: 'model',
          parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnLWE/Kw==' }],
        },
        index: 0,
      },
    ],
    usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 10, thoughtsTokenCount: 20, totalTokenCount: 70 },
    modelVersion: MODEL_VERSION,
    responseId: 'resp-stream-tools',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'get_time', args: {} } }] }, index: 0 }],
    usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 16, thoughtsTokenCount: 20, totalTokenCount: 76 },
    modelVersion: MODEL_VERSION,
    responseId: 'resp-stream-tools',
  },
  {
    candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: FinishReason.STOP, index: 0 }],
    usageMetadata: { promptTokenCount: 40, candidatesTokenCount: 16, thoughtsTokenCount: 20, totalTokenCount: 76 },
    modelVersion: MODEL_VERSION,
    responseId: 'resp-stream-tools',
  },
];

export const TWO_CANDIDATES_STREAM: WireResponse[] = [
  {
    candidates: [
      { content: { role: 'model', parts: [{ text: 'Hea' }] }, index: 0 },
      { content: { role: 'model', parts: [{ text: 'Ta' }] }, index: 1 },
    ],
    responseId: 'resp-stream-n',
  },
  {
    candidates: [
      { content: { role: 'model', parts: [{ text: 'ds.' }] }, finishReason: FinishReason.STOP, index: 0 },
      { content: { role: 'model', parts: [{ text: 'ils.' }] }, finishReason: FinishReason.STOP, index: 1 },
    ],
    usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 4, totalTokenCount: 9 },
    responseId: 'resp-stream-n',
  },
];

export const BLOCKED_STREAM: WireResponse[] = [BLOCKED_PROMPT_RESPONSE];

export const SAFETY_STREAM: WireResponse[] = [
  {
    candidates: [{ content: { role: 'model', parts: [{ text: 'Here is how' }] }, index: 0 }],
    responseId: 'resp-stream-safety',
  },
  {
    candidates: [{ finishReason: FinishReason.SAFETY, index: 0 }],
    usageMetadata: { promptTokenCount: 6, candidatesTokenCount: 3, totalTokenCount: 9 },
    responseId: 'resp-stream-safety',
  },
];

export const OVERLOADED_ERROR: WireError = {
  error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' },
};

export const ERROR_MID_STREAM: Array<WireResponse | WireError> = [TEXT_STREAM[0]!, OVERLOADED_ERROR];

/** Ends without a finishReason: the connection closed early. */
export const TRUNCATED_STREAM: WireResponse[] = [TEXT_STREAM[0]!, TEXT_STREAM[1]!];

// Errors, google.rpc.Status as JSON.

export const RATE_LIMITED_ERROR: WireError = {
  error: {
    code: 429,
    message: 'You exceeded your current quota, please check your plan and billing details.',
    status: 'RESOURCE_EXHAUSTED',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' }],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '34.4s' },
    ],
  },
};

export const BAD_KEY_ERROR: WireError = {
  error: {
    code: 400,
    message: 'API key not valid. Please pass a valid API key.',
    status: 'INVALID_ARGUMENT',
    details: [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
    ],
  },
};

export const NOT_FOUND_ERROR: WireError = {
  error: { code: 404, message: 'models/gemini-0.1 is not found for API version v1beta.', status: 'NOT_FOUND' },
};

export const UNAUTHENTICATED_ERROR: WireError = {
  error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' },
};

export const PERMISSION_DENIED_ERROR: WireError = {
  error: { code: 403, message: 'Permission denied on resource project demo.', status: 'PERMISSION_DENIED' },
};
