// Passive checks: a validated unified request and the unified completion that answered it in, one result per
// applicable check out. Pure and cheap (bench/health-checks.ts measures them).
import type { ChatRequest } from '../unified/chat-request.js';
import type { CheckName, HealthConfig } from './config.js';
import { validateJsonSchema } from './json-schema.js';
import type { ObservedCompletion } from './observe.js';
import { repetitionScore } from './repetition.js';

export interface CheckResult {
  readonly check: CheckName;
  readonly pass: boolean;
  readonly detail: string;
}

export type CheckSettings = Pick<HealthConfig, 'repetition' | 'finishReason'>;

const pass = (check: CheckName, detail = 'ok'): CheckResult => ({ check, pass: true, detail });
const fail = (check: CheckName, detail: string): CheckResult => ({ check, pass: false, detail });

function maxTokens(request: ChatRequest): number | undefined {
  return request.max_completion_tokens ?? request.max_tokens ?? undefined;
}

/** Runs the enabled content checks (latency is the monitor's: it needs the backend's baseline). */
export function runChecks(
  request: ChatRequest,
  observed: ObservedCompletion,
  enabled: ReadonlySet<CheckName>,
  settings: CheckSettings,
): CheckResult[] {
  const results: CheckResult[] = [];
  if (enabled.has('error_payload')) {
    results.push(
      observed.errorPayload === undefined
        ? pass('error_payload')
        : fail('error_payload', `200 carrying an error: ${observed.errorPayload}`),
    );
    // Nothing else can be judged on an error payload.
    if (observed.errorPayload !== undefined) return results;
  }
  if (observed.stream && enabled.has('stream_incomplete')) {
    results.push(
      observed.complete
        ? pass('stream_incomplete')
        : fail('stream_incomplete', 'the stream ended without a finish_reason for every choice'),
    );
  }
  if (observed.choices.length === 0) return results;
  if (enabled.has('empty')) results.push(checkEmpty(observed));
  if (enabled.has('finish_reason')) results.push(checkFinishReason(request, observed, settings));
  if (
    enabled.has('json') &&
    (request.response_format?.type === 'json_object' || request.response_format?.type === 'json_schema')
  )
    results.push(checkJson(request, observed));
  if (enabled.has('tool_calls') && observed.choices.some((c) => c.toolCalls.length > 0))
    results.push(checkToolCalls(request, observed));
  if (enabled.has('repetition')) results.push(checkRepetition(observed, settings));
  return results;
}

export function checkEmpty(observed: ObservedCompletion): CheckResult {
  for (const [i, c] of observed.choices.entries()) {
    if (c.finishReason === 'content_filter') continue; // an empty filtered answer is the provider's policy, not a fault
    if (c.content.trim().length === 0 && c.toolCalls.length === 0 && c.refusal.trim().length === 0)
      return fail('empty', `choice ${i} has no content, refusal or tool call`);
  }
  return pass('empty');
}

export function checkFinishReason(
  request: ChatRequest,
  observed: ObservedCompletion,
  settings: CheckSettings,
): CheckResult {
  const limit = maxTokens(request);
  for (const [i, c] of observed.choices.entries()) {
    if (c.finishReason === undefined) {
      // A stream's missing finish_reason is stream_incomplete's verdict; a whole body must carry one.
      if (!observed.stream) return fail('finish_reason', `choice ${i} has no finish_reason`);
      continue;
    }
    if (c.finishReason === 'length' && limit !== undefined) {
      const produced =
        observed.completionTokens ??
        Math.ceil((c.content.length + c.toolCalls.reduce((n, t) => n + t.arguments.length, 0)) / 4);
      const floor = settings.finishReason.lengthBelowFraction * limit;
      if (produced < floor)
        return fail('finish_reason', `finish_reason 'length' after ${produced} tokens, far below max tokens ${limit}`);
    }
  }
  return pass('finish_reason');
}

export function checkJson(request: ChatRequest, observed: ObservedCompletion): CheckResult {
  const format = request.response_format;
  const schema = format?.type === 'json_schema' ? format.json_schema.schema : undefined;
  for (const [i, c] of observed.choices.entries()) {
    // A truncated answer is finish_reason's business; a refusal or tool call carries no JSON.
    if (
      c.finishReason === 'length' ||
      c.finishReason === 'content_filter' ||
      c.toolCalls.length > 0 ||
      c.refusal.length > 0
    )
      continue;
    if (c.content.trim().length === 0) continue; // the empty check reports it
    let value: unknown;
    try {
      value = JSON.parse(c.content);
    } catch {
      return fail('json', `choice ${i}: content is not valid JSON although ${format?.type ?? 'JSON'} was asked`);
    }
    if (format?.type === 'json_object' && (typeof value !== 'object' || value === null || Array.isArray(value)))
      return fail('json', `choice ${i}: JSON is not an object`);
    if (schema) {
      const problem = validateJsonSchema(value, schema);
      if (problem) return fail('json', `choice ${i}: schema violation ${problem}`);
    }
  }
  return pass('json');
}

export function checkToolCalls(request: ChatRequest, observed: ObservedCompletion): CheckResult {
  const declared = new Map((request.tools ?? []).map((t) => [t.function.name, t.function.parameters]));
  for (const [i, c] of observed.choices.entries()) {
    for (const call of c.toolCalls) {
      if (declared.size > 0 && !declared.has(call.name))
        return fail('tool_calls', `choice ${i}: call of undeclared tool "${call.name.slice(0, 64)}"`);
      let args: unknown;
      try {
        args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
      } catch {
        return fail('tool_calls', `choice ${i}: arguments of "${call.name.slice(0, 64)}" are not valid JSON`);
      }
      if (typeof args !== 'object' || args === null || Array.isArray(args))
        return fail('tool_calls', `choice ${i}: arguments of "${call.name.slice(0, 64)}" are not a JSON object`);
      const parameters = declared.get(call.name);
      if (parameters) {
        const problem = validateJsonSchema(args, parameters);
        if (problem)
          return fail(
            'tool_calls',
            `choice ${i}: arguments of "${call.name.slice(0, 64)}" violate its parameters: ${problem}`,
          );
      }
    }
  }
  return pass('tool_calls');
}

export function checkRepetition(observed: ObservedCompletion, settings: CheckSettings): CheckResult {
  let worst = 0;
  for (const [i, c] of observed.choices.entries()) {
    const r = repetitionScore(c.content, settings.repetition.minChars);
    if (r.score > settings.repetition.threshold) {
      return fail(
        'repetition',
        `choice ${i}: repetition score ${r.score.toFixed(2)} (ngram ${r.ngram.toFixed(2)}, loop ${r.loop.toFixed(2)}, compress ${r.compress.toFixed(2)}, structured ${r.structured.toFixed(2)})`,
      );
    }
    worst = Math.max(worst, r.score);
  }
  return pass('repetition', `score ${worst.toFixed(2)}`);
}
