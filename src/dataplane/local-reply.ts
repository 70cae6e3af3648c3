// Local replies: responses Envoy makes up itself (sendLocalReply), including those built from an ext_proc
// ImmediateResponse. Envoy adds content-length, and content-type text/plain when there is a body and no
// content-type yet; response_code_details records why (%RESPONSE_CODE_DETAILS%, spaces turned into "_").
import type { ImmediateResponse__Output } from '../generated/envoy/service/ext_proc/v3/ImmediateResponse.js';
import { loadServiceProtos } from '../protos/load.js';
import { getHeader, hasHeader, setHeader, type HeaderList } from './headers.js';
import { applyHeaderMutation } from './mutations.js';

export interface LocalReply {
  readonly status: number;
  /** Headers besides :status, content-length and content-type defaults. */
  readonly headers: HeaderList;
  readonly body: Buffer;
  readonly details: string;
}

export function localReply(status: number, body: string, details: string): LocalReply {
  return { status, headers: [], body: Buffer.from(body), details };
}

/** The bodies and details Envoy uses for the local replies the data plane reproduces. */
export const LOCAL_REPLIES = {
  noHealthyUpstream: () => localReply(503, 'no healthy upstream', 'no_healthy_upstream'),
  // Envoy 1.40's details for the route timeout (flag UT).
  routeTimeout: () => localReply(504, 'upstream request timeout', 'response_timeout'),
  resetBeforeHeaders: (reason: string) =>
    localReply(
      503,
      `upstream connect error or disconnect/reset before headers. reset reason: ${reason.replaceAll('_', ' ')}`,
      `upstream_reset_before_response_started{${reason}}`,
    ),
  /** An HTTP/1.1 upstream closing mid-body is a codec protocol error in Envoy: 502 (flag UPE). */
  resetAfterResponseStarted: (reason: string) =>
    localReply(
      reason === 'protocol_error' ? 502 : 503,
      `upstream connect error or disconnect/reset before headers. reset reason: ${reason.replaceAll('_', ' ')}`,
      `upstream_reset_after_response_started{${reason}}`,
    ),
  requestTooLarge: () => localReply(413, 'Payload Too Large', 'request_payload_too_large'),
  responseTooLarge: () => localReply(500, 'Internal Server Error', 'response_payload_too_large'),
  directResponse: (status: number, body: string, headers: HeaderList = []) => ({
    ...localReply(status, body, 'direct_response'),
    headers,
  }),
  /** ext_proc errors (Filter::onGrpcError, onMessageTimeout, handleErrorResponse): empty body. */
  extProcError: (status: number, details: string) => localReply(status, '', replaceSpaces(details)),
};

export function replaceSpaces(details: string): string {
  return details.replace(/\s/g, '_');
}

/**
 * Full response headers of a local reply, as the router-level ext_proc sees them. An empty local reply carries no
 * content-length there (Envoy 1.40); the HTTP/1 codec adds `content-length: 0` on the wire (Downstream does).
 */
export function localReplyHeaders(reply: LocalReply): HeaderList {
  const headers: HeaderList = [[':status', String(reply.status)], ...reply.headers.filter(([k]) => k !== ':status')];
  if (reply.body.length > 0) {
    setHeader(headers, 'content-length', String(reply.body.length));
    if (!hasHeader(headers, 'content-type')) setHeader(headers, 'content-type', 'text/plain');
  }
  return headers;
}

let statusNumbers: Map<string, number> | undefined;

/** envoy.type.v3.StatusCode names (what proto-loader's `enums: String` yields) → numbers. */
function statusCodeNumber(code: string | number | undefined): number {
  if (code === undefined) return 0;
  if (typeof code === 'number') return code;
  if (statusNumbers === undefined) {
    statusNumbers = new Map();
    const type: unknown = loadServiceProtos().envoy.type.v3.StatusCode.type;
    const values: unknown = typeof type === 'object' && type !== null && 'value' in type ? type.value : [];
    if (Array.isArray(values)) {
      for (const v of values as unknown[]) {
        if (
          typeof v === 'object' &&
          v !== null &&
          'name' in v &&
          'number' in v &&
          typeof v.name === 'string' &&
          typeof v.number === 'number'
        ) {
          statusNumbers.set(v.name, v.number);
        }
      }
    }
  }
  return statusNumbers.get(code) ?? 0;
}

/**
 * Filter::sendImmediateResponse: status defaults to 200 and must be ≥ 200; header mutations pass the same
 * mutation rules as other responses (failures are logged, not fatal); details become response_code_details.
 */
export function immediateResponseToLocalReply(
  response: ImmediateResponse__Output,
  onIgnored: (what: string) => void,
): LocalReply {
  let status = statusCodeNumber(response.status?.code);
  if (response.status === undefined) status = 200;
  if (status < 200) {
    onIgnored(`immediate_response status ${status} is not a valid HTTP status: using 200`);
    status = 200;
  }
  const headers: HeaderList = [[':status', String(status)]];
  if (response.headers !== undefined) {
    const result = applyHeaderMutation(headers, response.headers, {
      replacingMessage: false,
      removeContentLength: false,
    });
    for (const what of result.ignored) onIgnored(`immediate_response header mutation ignored: ${what}`);
    if (!result.ok) onIgnored(`immediate_response mutations failed with ${result.error}`);
  }
  const finalStatus = Number(getHeader(headers, ':status') ?? status);
  return {
    status: Number.isInteger(finalStatus) ? finalStatus : status,
    headers: headers.filter(([k]) => k !== ':status'),
    body: response.body ?? Buffer.alloc(0),
    details: replaceSpaces(response.details ?? ''),
  };
}
