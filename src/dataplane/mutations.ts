// Pure: how Envoy's ext_proc filter applies a HeaderMutation / BodyMutation to a message it holds.
// Mirrors source/extensions/filters/http/ext_proc/mutation_utils.cc and
// source/extensions/filters/common/mutation_rules/mutation_rules.cc (Envoy ~1.31, default HeaderMutationRules,
// runtime flag envoy.reloadable_features.send_header_raw_value = true, disallow_is_error = false).
import type { HeaderMutation__Output } from '../generated/envoy/service/ext_proc/v3/HeaderMutation.js';
import type { BodyMutation__Output } from '../generated/envoy/service/ext_proc/v3/BodyMutation.js';
import { addHeader, getHeader, hasHeader, removeHeader, setHeader, type HeaderList } from './headers.js';

export type CheckOperation = 'set' | 'append' | 'remove';

/** Envoy's default header count limit (max_request_headers_count / max_response_headers_count). */
export const MAX_HEADERS_COUNT = 100;

/** Headers that may affect routing; only `allow_all_routing` lets a processor change them. */
const ROUTING_HEADERS = new Set(['host', ':authority', ':method', ':scheme']);
const ENVOY_PREFIX = 'x-envoy-';

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** HeaderUtility::headerNameIsValid: RFC 7230 token chars; a leading ":" for pseudo-headers. */
export function headerNameIsValid(name: string): boolean {
  const body = name.startsWith(':') ? name.slice(1) : name;
  return TCHAR.test(body);
}

/** HeaderUtility::headerValueIsValid: no NUL, CR, LF or other control characters except HTAB. */
export function headerValueIsValid(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** Checker::check with default rules: true = apply, false = ignore (and count in rejected_header_mutations). */
export function mutationAllowed(op: CheckOperation, name: string, value: string): boolean {
  // No matter what, ":"-prefixed headers and "host" cannot be removed.
  if (op === 'remove' && (name.startsWith(':') || name === 'host')) return false;
  if (ROUTING_HEADERS.has(name)) return false;
  // System headers hold one value: appending to them is refused.
  if (name.startsWith(':') && op === 'append') return false;
  if (name.startsWith(ENVOY_PREFIX)) return false;
  if (op === 'remove') return true;
  // isValidValue: sensitive headers that would make Envoy misbehave.
  if (name === ':status') {
    if (!/^\d+$/.test(value)) return false;
    if (Number(value) < 200) return false;
  }
  return true;
}

export interface MutationOptions {
  /** CONTINUE_AND_REPLACE: ":method" may then be changed (compatibility special case in Envoy). */
  readonly replacingMessage: boolean;
  /** The body mode cannot keep content-length correct (STREAMED, BUFFERED_PARTIAL, BUFFERED+SKIP): skip setting it. */
  readonly removeContentLength: boolean;
}

export type MutationResult =
  | { readonly ok: true; readonly ignored: readonly string[] }
  | { readonly ok: false; readonly error: string; readonly ignored: readonly string[] };

/**
 * Applies a HeaderMutation in place, as MutationUtils::applyHeaderMutations does. Removals first, then sets.
 * Disallowed changes are ignored (reported in `ignored`); malformed ones are an error, which Envoy turns into a
 * 500 local reply. `append_action` is NOT read: Envoy 1.31's ext_proc only honours the `append` BoolValue
 * (default false, i.e. overwrite); PRs #29862 and #37139 that would honour append_action were closed unmerged.
 */
export function applyHeaderMutation(
  headers: HeaderList,
  mutation: HeaderMutation__Output,
  options: MutationOptions,
): MutationResult {
  const ignored: string[] = [];
  const removes = mutation.remove_headers ?? [];
  const sets = mutation.set_headers ?? [];
  // Error texts are the response_code_details Envoy 1.40 reports (src/dataplane/parity/answers.test.ts).
  if (removes.length > MAX_HEADERS_COUNT || sets.length > MAX_HEADERS_COUNT) {
    return { ok: false, ignored, error: 'header_mutation_operation_count_exceeds_limit' };
  }
  for (const raw of removes) {
    if (!headerNameIsValid(raw))
      return { ok: false, ignored, error: 'header_mutation_remove_contains_invalid_character' };
    const name = raw.toLowerCase();
    if (mutationAllowed('remove', name, '')) removeHeader(headers, name);
    else ignored.push(`remove ${name}`);
  }
  for (const option of sets) {
    const header = option.header;
    if (header === undefined) continue;
    const key = header.key ?? '';
    if (options.removeContentLength && key.toLowerCase() === 'content-length') continue;
    // Envoy reads raw_value only: a mutation that sets just `value` writes an empty header (envoyproxy/envoy#31555),
    // and one that sets both takes raw_value (Envoy 1.40 no longer rejects it).
    const value = (header.raw_value ?? Buffer.alloc(0)).toString('latin1');
    if (!headerNameIsValid(key) || !headerValueIsValid(value)) {
      return { ok: false, ignored, error: 'header_mutation_set_contains_invalid_character' };
    }
    const name = key.toLowerCase();
    const append = option.append?.value ?? false;
    const op: CheckOperation = append && hasHeader(headers, name) ? 'append' : 'set';
    const allowed = mutationAllowed(op, name, value) || (options.replacingMessage && name === ':method');
    if (!allowed) {
      ignored.push(`${op} ${name}`);
      continue;
    }
    if (append) addHeader(headers, name, value);
    else setHeader(headers, name, value);
  }
  if (headers.length > MAX_HEADERS_COUNT) {
    return { ok: false, ignored, error: 'header_mutation_result_exceeds_limit' };
  }
  return { ok: true, ignored };
}

/** The length Envoy compares with content-length: `body_mutation.body().size()` (0 for clear_body). */
export function mutatedBodyLength(mutation: BodyMutation__Output): number {
  return mutation.mutation === 'body' ? (mutation.body?.length ?? 0) : 0;
}

/** MutationUtils::applyBodyMutations. */
export function applyBodyMutation(body: Buffer, mutation: BodyMutation__Output): Buffer {
  switch (mutation.mutation) {
    case 'body':
      return Buffer.from(mutation.body ?? Buffer.alloc(0));
    case 'clear_body':
      return mutation.clear_body === true ? Buffer.alloc(0) : body;
    default:
      return body;
  }
}

/**
 * ProcessorState::handleBodyResponse (BUFFERED): when headers are still held and carry a numeric content-length,
 * a body mutation whose length differs is rejected; Envoy answers with a 500 local reply.
 */
export function contentLengthMismatch(headers: HeaderList, mutation: BodyMutation__Output): string | undefined {
  const declared = getHeader(headers, 'content-length');
  if (declared === undefined || !/^\d+$/.test(declared.trim())) return undefined;
  if (Number(declared.trim()) === mutatedBodyLength(mutation)) return undefined;
  return 'mismatch between content length and the length of the mutated body';
}
