// Builders and readers for ext_proc messages, so the stages speak in headers and bodies, not in proto shapes.
// Note: google.protobuf.Struct/Value come from protobufjs' bundled definitions, which use camelCase field names
// (stringValue, structValue) even with keepCase; Envoy's own messages keep snake_case.
import type { HeaderMap__Output } from '../generated/envoy/config/core/v3/HeaderMap.js';
import type { HeaderValueOption } from '../generated/envoy/config/core/v3/HeaderValueOption.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { CommonResponse } from '../generated/envoy/service/ext_proc/v3/CommonResponse.js';
import type { StatusCode } from '../generated/envoy/type/v3/StatusCode.js';
import type { Struct } from '../generated/google/protobuf/Struct.js';
import type { Value } from '../generated/google/protobuf/Value.js';
import type { Struct__Output } from '../generated/google/protobuf/Struct.js';
import type { Value__Output } from '../generated/google/protobuf/Value.js';

/** Lower-cased header name → value, for the few headers a stage reads. */
export type Headers = Map<string, string>;

/**
 * Reads just the named headers (lower-case names). Envoy sends values in raw_value (bytes) since 1.27, older
 * versions in value; decoding only what we need keeps requests with many headers cheap.
 */
export function readHeaders(map: HeaderMap__Output | undefined, names: readonly string[]): Headers {
  const headers: Headers = new Map();
  for (const h of map?.headers ?? []) {
    const key = h.key?.toLowerCase();
    if (key === undefined || !names.includes(key)) continue;
    headers.set(key, h.raw_value && h.raw_value.length > 0 ? h.raw_value.toString('utf8') : (h.value ?? ''));
  }
  return headers;
}

export interface HeaderChanges {
  readonly set?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}

function headerMutation(changes: HeaderChanges): CommonResponse['header_mutation'] {
  const setHeaders: HeaderValueOption[] = Object.entries(changes.set ?? {}).map(([key, value]) => ({
    header: { key, raw_value: Buffer.from(value) },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
  }));
  return { set_headers: setHeaders, remove_headers: [...(changes.remove ?? [])] };
}

export interface CommonChanges {
  readonly headers?: HeaderChanges;
  /** Replacement body (BUFFERED: the whole body; STREAMED: this chunk). */
  readonly body?: Buffer;
  readonly clearRouteCache?: boolean;
  /** CONTINUE_AND_REPLACE: on a headers response, `body` creates or replaces the body and ends that direction. */
  readonly replace?: boolean;
}

function commonResponse(changes: CommonChanges): CommonResponse {
  const response: CommonResponse = {};
  if (changes.headers) response.header_mutation = headerMutation(changes.headers);
  if (changes.body !== undefined) {
    response.body_mutation = changes.body.length === 0 ? { clear_body: true } : { body: changes.body };
  }
  if (changes.clearRouteCache) response.clear_route_cache = true;
  if (changes.replace) response.status = 'CONTINUE_AND_REPLACE';
  return response;
}

type Phase = 'request_headers' | 'response_headers' | 'request_body' | 'response_body';

// Most answers change nothing; sharing one immutable message per phase keeps them allocation-free.
const UNCHANGED: Readonly<Record<Phase, ProcessingResponse>> = Object.freeze({
  request_headers: Object.freeze({ request_headers: Object.freeze({}) }),
  response_headers: Object.freeze({ response_headers: Object.freeze({}) }),
  request_body: Object.freeze({ request_body: Object.freeze({}) }),
  response_body: Object.freeze({ response_body: Object.freeze({}) }),
});

export function continueWith(
  phase: Phase,
  changes?: CommonChanges,
  extra?: Partial<ProcessingResponse>,
): ProcessingResponse {
  if (
    !extra &&
    (!changes || (!changes.headers && changes.body === undefined && !changes.clearRouteCache && !changes.replace))
  )
    return UNCHANGED[phase];
  // HeadersResponse and BodyResponse both wrap a CommonResponse in `response`.
  return { ...extra, [phase]: { response: commonResponse(changes ?? {}) } };
}

export function immediateResponse(
  status: number,
  headers: Record<string, string>,
  body: Buffer,
  details: string,
): ProcessingResponse {
  return {
    immediate_response: {
      // Envoy's StatusCode enum lists the HTTP codes by number; proto-loader accepts the number itself.
      status: { code: status as StatusCode },
      headers: headerMutation({ set: headers }),
      body,
      details,
    },
  };
}

/** Flat string/number/bool map → dynamic metadata Struct under one namespace. */
export function dynamicMetadata(
  namespace: string,
  values: Record<string, string | number | boolean | undefined>,
): Struct {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (typeof value === 'string') fields[key] = { stringValue: value };
    else if (typeof value === 'number') fields[key] = { numberValue: value };
    else fields[key] = { boolValue: value };
  }
  return { fields: { [namespace]: { structValue: { fields } } } };
}

/** Reads a string attribute Envoy evaluated for us (ProcessingRequest.attributes[filter].fields[expr]). */
export function stringAttribute(
  attributes: Record<string, Struct__Output> | undefined,
  filter: string,
  expression: string,
): string | undefined {
  const value: Value__Output | undefined = attributes?.[filter]?.fields?.[expression];
  return value?.stringValue ?? undefined;
}
