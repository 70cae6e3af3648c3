// Whole OpenAI-shaped response bodies: pass through untouched unless an error is not OpenAI-shaped or a compatible
// server's finish reason must be repaired.
import { normaliseErrorBody } from '../../unified/errors.js';
import { usageFromOpenAI } from '../../unified/usage.js';
import { isRecord, parseJson } from '../../util/json.js';
import type { TranslatedBody } from '../provider.js';
import { upstreamFailure } from './errors.js';

/** OpenAI's finish reasons; anything else from a compatible server is mapped (FINISH_ALIASES) or becomes `stop`. */
export const OPENAI_FINISH_REASONS: ReadonlySet<string> = new Set([
  'stop',
  'length',
  'tool_calls',
  'content_filter',
  'function_call',
]);
/** Mistral: `model_length` means the context window ran out, i.e. a truncation. */
/** Compatible servers' finish reasons with an OpenAI equivalent (a Map: a reason like "constructor" finds nothing). */
const FINISH_ALIASES: ReadonlyMap<string, string> = new Map([['model_length', 'length']]);

/** The OpenAI finish reason for a compatible server's non-OpenAI one: its alias, or `stop`. */
export function aliasedFinishReason(reason: string): string {
  return FINISH_ALIASES.get(reason) ?? 'stop';
}
/** Mistral's `error` finish reason: the generation failed, so it becomes an error rather than a plausible `stop`. */
export const FINISH_ERROR = 'error';

/** What whole bodies depend on in an OpenAI flavour (see flavour.ts). */
export interface WholeBodyQuirks {
  /** Turns a non-2xx body into the unified error; defaults to normaliseErrorBody. */
  translateError?(status: number, body: Buffer): TranslatedBody;
  /** Whole 2xx bodies: repair finish reasons outside OpenAI's set (parse + re-serialise only when needed). */
  readonly repairWholeBodies?: boolean;
}

export function translateWholeBody(status: number, body: Buffer, flavour: WholeBodyQuirks): TranslatedBody {
  if (status < 200 || status >= 300) {
    return flavour.translateError
      ? flavour.translateError(status, body)
      : { body: normaliseErrorBody(status, body), usage: undefined };
  }
  const json = parseJson(body);
  if (!isRecord(json)) return { body: undefined, usage: undefined };
  const usage = usageFromOpenAI(json.usage);
  if (!flavour.repairWholeBodies || !Array.isArray(json.choices)) return { body: undefined, usage };
  let changed = false;
  for (const choice of json.choices) {
    if (
      !isRecord(choice) ||
      typeof choice.finish_reason !== 'string' ||
      OPENAI_FINISH_REASONS.has(choice.finish_reason)
    )
      continue;
    if (choice.finish_reason === FINISH_ERROR) {
      return { body: Buffer.from(JSON.stringify(upstreamFailure(FINISH_ERROR))), usage, status: 502 };
    }
    choice.finish_reason = aliasedFinishReason(choice.finish_reason);
    changed = true;
  }
  return { body: changed ? Buffer.from(JSON.stringify(json)) : undefined, usage };
}
