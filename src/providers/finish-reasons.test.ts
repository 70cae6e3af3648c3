// Every provider's stop/finish reason → OpenAI finish_reason, as one table per provider read by outcome: each row is
// an OpenAI finish_reason (or `error`: the generation failed, so the client gets an error), the provider's reasons
// that become it, and why. One row, one test. Where the provider's SDK or wire types enumerate its reasons, a
// compile-time check (`Unlisted`) fails when one is added there and not placed in a row here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StopReason as AnthropicStopReason } from '@anthropic-ai/sdk/resources/messages';
import type { StopReason as BedrockStopReason } from '@aws-sdk/client-bedrock-runtime';
import { finishReason as anthropicFinish } from './anthropic/finish.js';
import { outcomeFor as bedrockOutcome } from './bedrock/response.js';
import { mapFinishReason as cohereFinish } from './cohere/response.js';
import type { ChatFinishReasonRaw as CohereFinishReason } from './cohere/sdk-wire.js';
import { finishReason as geminiFinish, type KnownGeminiFinishReason } from './gemini/candidates.js';
import { openAICompatibleProvider } from './openai-compatible/index.js';
import { parseChatRequest } from '../unified/chat-request.js';

type Finish = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | 'error';
type Row<R extends string> = readonly [finish: Finish, reasons: readonly R[], why: string];
/** The provider's reasons no row names: `never` when the table is complete. */
type Unlisted<R extends string, Rows extends readonly Row<R>[]> = Exclude<R, Rows[number][1][number]>;
/** Compiles only when its type argument is `never` (a compile-time check; nothing happens at run time). */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- T is the check: only `never` satisfies its bound
const complete = <T extends never>(): void => undefined;

/** Values no provider defines today: a newer API's, and names an object literal would find on its prototype. */
const UNKNOWN = ['SOMETHING_NEW', 'constructor', '__proto__'];

function rows<R extends string>(table: readonly Row<R>[], finishOf: (reason: R) => Finish): void {
  for (const [finish, reasons, why] of table) {
    test(`${reasons.join(', ')} → ${finish} (${why})`, () => {
      for (const reason of reasons) assert.equal(finishOf(reason), finish, reason);
    });
  }
}

describe('Anthropic stop_reason', () => {
  const TABLE = [
    [
      'stop',
      ['end_turn', 'stop_sequence', 'pause_turn'],
      'the answer is complete; only server tools pause a turn and the gateway sends none',
    ],
    ['length', ['max_tokens', 'model_context_window_exceeded'], 'cut short, by max_tokens or by the context window'],
    ['content_filter', ['refusal'], 'the model refused'],
    ['tool_calls', ['tool_use'], 'with tool calls the client sees'],
  ] as const satisfies readonly Row<AnthropicStopReason>[];
  complete<Unlisted<AnthropicStopReason, typeof TABLE>>();
  rows(TABLE, (reason) => anthropicFinish(reason, 1));
  test('tool_use whose only call is the JSON-mode tool (the answer itself) → stop', () =>
    assert.equal(anthropicFinish('tool_use', 0), 'stop'));
  test('absent or unknown → stop', () => {
    for (const reason of [undefined, ...UNKNOWN]) assert.equal(anthropicFinish(reason, 0), 'stop', String(reason));
  });
});

describe('Bedrock Converse stopReason', () => {
  const finishOf = (reason: unknown, jsonMode = false): Finish => {
    const outcome = bedrockOutcome(reason, jsonMode);
    return 'finish' in outcome ? outcome.finish : 'error';
  };
  const TABLE = [
    ['stop', ['end_turn', 'stop_sequence'], 'the model finished'],
    ['length', ['max_tokens', 'model_context_window_exceeded'], 'cut short'],
    ['content_filter', ['guardrail_intervened', 'content_filtered'], 'a guardrail or filter stopped it'],
    ['tool_calls', ['tool_use'], 'a tool turn'],
    [
      'error',
      ['malformed_model_output', 'malformed_tool_use'],
      'the output could not be parsed: not an answer to trust',
    ],
  ] as const satisfies readonly Row<BedrockStopReason>[];
  complete<Unlisted<BedrockStopReason, typeof TABLE>>();
  rows(TABLE, (reason) => finishOf(reason));
  test('tool_use in JSON mode (the forced tool is the answer) → stop', () =>
    assert.equal(finishOf('tool_use', true), 'stop'));
  test('the error names the stop reason', () => {
    const outcome = bedrockOutcome('malformed_tool_use', false);
    assert.ok('error' in outcome);
    assert.equal(outcome.error.error.code, 'malformed_tool_use');
  });
  test('absent or unknown → stop', () => {
    for (const reason of [undefined, ...UNKNOWN]) assert.equal(finishOf(reason), 'stop', String(reason));
  });
});

describe('Cohere finish_reason', () => {
  const TABLE = [
    ['stop', ['COMPLETE', 'STOP_SEQUENCE'], 'the model finished'],
    ['length', ['MAX_TOKENS'], 'cut short'],
    ['tool_calls', ['TOOL_CALL'], 'a tool turn'],
    ['error', ['ERROR', 'TIMEOUT'], 'the generation failed'],
  ] as const satisfies readonly Row<CohereFinishReason>[];
  complete<Unlisted<CohereFinishReason, typeof TABLE>>();
  rows(TABLE, (reason) => {
    const mapped = cohereFinish(reason, false);
    return typeof mapped === 'string' ? mapped : 'error';
  });
  test('the failures carry their own status: ERROR a 502, TIMEOUT a 504', () => {
    assert.deepEqual(
      (['ERROR', 'TIMEOUT'] as const)
        .map((reason) => cohereFinish(reason, false))
        .map((f) => (typeof f === 'string' ? f : [f.status, f.code])),
      [
        [502, 'upstream_error'],
        [504, 'upstream_timeout'],
      ],
    );
  });
  test('absent or unknown → stop, or tool_calls when the message carries tool calls', () => {
    for (const reason of [undefined, ...UNKNOWN]) {
      assert.equal(cohereFinish(reason, false), 'stop', String(reason));
      assert.equal(cohereFinish(reason, true), 'tool_calls', String(reason));
    }
  });
});

describe('Gemini finishReason', () => {
  const TABLE = [
    ['stop', ['STOP', 'OTHER', 'FINISH_REASON_UNSPECIFIED', 'NO_IMAGE'], 'the model stopped'],
    [
      'stop',
      ['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS'],
      'a failed tool call: no valid call or further text to report',
    ],
    ['length', ['MAX_TOKENS', 'CONTINUATION'], 'cut short (CONTINUATION: paused, resumable)'],
    [
      'content_filter',
      [
        'SAFETY',
        'RECITATION',
        'LANGUAGE',
        'BLOCKLIST',
        'PROHIBITED_CONTENT',
        'SPII',
        'IMAGE_SAFETY',
        'IMAGE_PROHIBITED_CONTENT',
        'IMAGE_RECITATION',
        'IMAGE_OTHER',
      ],
      'every safety-like stop',
    ],
  ] as const satisfies readonly Row<KnownGeminiFinishReason>[];
  complete<Unlisted<KnownGeminiFinishReason, typeof TABLE>>();
  rows(TABLE, (reason) => geminiFinish(reason, false));
  test('STOP after function calls → tool_calls; no other reason becomes tool_calls', () => {
    for (const [finish, reasons] of TABLE) {
      for (const reason of reasons)
        assert.equal(geminiFinish(reason, true), reason === 'STOP' ? 'tool_calls' : finish, reason);
    }
  });
  test('unknown → stop', () => {
    for (const reason of UNKNOWN) assert.equal(geminiFinish(reason, false), 'stop', reason);
  });
});

describe('OpenAI-compatible finish_reason (whole bodies; outside OpenAI’s set it is repaired)', () => {
  const context = {
    request: parseChatRequest('{"model":"m","messages":[{"role":"user","content":"hi"}]}'),
    clientWantsUsage: false,
    requestId: 'r',
    created: 1,
  };
  const finishOf = (reason: string): Finish => {
    const body = {
      id: 'x',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: reason }],
    };
    const out = openAICompatibleProvider.translateResponse(200, Buffer.from(JSON.stringify(body)), context);
    if (out.status === 502) return 'error';
    const json = JSON.parse((out.body ?? Buffer.from(JSON.stringify(body))).toString()) as typeof body;
    return json.choices[0]?.finish_reason as Finish;
  };
  const TABLE: readonly Row<string>[] = [
    ['stop', ['stop'], 'OpenAI’s own'],
    ['length', ['length', 'model_length'], 'model_length: Mistral’s context window ran out'],
    ['tool_calls', ['tool_calls'], 'OpenAI’s own'],
    ['content_filter', ['content_filter'], 'OpenAI’s own'],
    ['function_call', ['function_call'], 'OpenAI’s own (legacy)'],
    ['error', ['error'], 'Mistral: the generation failed'],
    ['stop', ['SOMETHING_NEW'], 'anything else'],
  ];
  rows(TABLE, finishOf);
  // A reason that names an Object.prototype member is just another unknown reason.
  test('a prototype name (constructor, __proto__, toString) → stop', () => {
    for (const reason of ['constructor', '__proto__', 'toString']) assert.equal(finishOf(reason), 'stop', reason);
  });
});
