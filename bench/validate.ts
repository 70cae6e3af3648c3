// Deep checks of the real server's answers for one exchange, run before any timing so the bench never measures a
// broken path (e.g. every request rejected with an immediate response would look wonderfully cheap).
import { BACKEND_HEADER, METADATA_NAMESPACE, ROUTE_HEADER } from '../src/extproc/contract.js';
import type { CommonResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/CommonResponse.js';
import type { ProcessingResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import type { Struct__Output } from '../src/generated/google/protobuf/Struct.js';
import {
  BACKEND,
  BACKEND_BASE_PATH,
  BACKEND_KEY,
  CLIENT_MODEL,
  ROUTE_CLUSTER,
  SSE_RESPONSE_CHUNKS,
  SSE_USAGE_CHUNK_INDEX,
  UPSTREAM_MODEL,
  USAGE,
} from './fixtures.js';
import type { ExchangeRecord } from './exchange.js';

class ValidationError extends Error {}

function check(condition: boolean, what: string, actual?: unknown): asserts condition {
  if (!condition) throw new ValidationError(actual === undefined ? what : `${what} (got ${JSON.stringify(actual)})`);
}

type Phase = 'request_headers' | 'request_body' | 'response_headers' | 'response_body';

function common(response: ProcessingResponse__Output | undefined, phase: Phase, where: string): CommonResponse__Output {
  check(response !== undefined, `${where}: no response`);
  check(response.response === phase, `${where}: expected a ${phase} response`, response.response);
  const wrapper: { response?: CommonResponse__Output } | undefined = response[phase];
  return wrapper?.response ?? {};
}

function setHeader(response: CommonResponse__Output, key: string): string | undefined {
  const found = response.header_mutation?.set_headers?.find((h) => h.header?.key === key);
  if (!found?.header) return undefined;
  return found.header.raw_value && found.header.raw_value.length > 0
    ? found.header.raw_value.toString('utf8')
    : found.header.value;
}

function metadataField(
  metadata: Struct__Output | undefined,
  key: string,
): { stringValue?: string; numberValue?: number; boolValue?: boolean } | undefined {
  return metadata?.fields?.[METADATA_NAMESPACE]?.structValue?.fields?.[key] ?? undefined;
}

/** Throws a ValidationError naming the first wrong answer; returns the number of checks that passed. */
export function validateRealExchange(record: ExchangeRecord, stream: boolean): number {
  let checks = 0;
  const ok: (condition: boolean, what: string, actual?: unknown) => asserts condition = (condition, what, actual) => {
    check(condition, what, actual);
    checks++;
  };
  const [rHeaders, rBody, rRespHeaders, ...rRespBodies] = record.router;
  const [uHeaders, uBody, uRespHeaders, ...uRest] = record.upstream;

  common(rHeaders, 'request_headers', 'router request_headers');
  const routeCommon = common(rBody, 'request_body', 'router request_body');
  ok(
    setHeader(routeCommon, ROUTE_HEADER) === ROUTE_CLUSTER,
    `router request_body: sets ${ROUTE_HEADER}: ${ROUTE_CLUSTER}`,
    routeCommon.header_mutation,
  );
  ok(routeCommon.clear_route_cache === true, 'router request_body: clear_route_cache');
  ok(
    metadataField(rBody?.dynamic_metadata, 'model')?.stringValue === CLIENT_MODEL,
    'router request_body: dynamic metadata model',
    rBody?.dynamic_metadata,
  );

  common(uHeaders, 'request_headers', 'upstream request_headers');
  const rewrite = common(uBody, 'request_body', 'upstream request_body');
  const path = `${BACKEND_BASE_PATH}/chat/completions`;
  // The client already asked for this path, so the service may leave :path alone; any rewrite must be right.
  ok(
    (setHeader(rewrite, ':path') ?? path) === path,
    `upstream request_body: :path ends up ${path}`,
    rewrite.header_mutation,
  );
  ok(
    setHeader(rewrite, 'authorization') === `Bearer ${BACKEND_KEY}`,
    'upstream request_body: sets the backend credential',
  );
  ok(
    rewrite.header_mutation?.remove_headers?.includes(ROUTE_HEADER) === true,
    `upstream request_body: removes ${ROUTE_HEADER}`,
  );
  const body = rewrite.body_mutation?.body;
  ok(body !== undefined && body.length > 0, 'upstream request_body: replaces the body', rewrite.body_mutation);
  ok(
    setHeader(rewrite, 'content-length') === String(body.length),
    'upstream request_body: content-length matches the new body',
  );
  const outbound = JSON.parse(body.toString('utf8')) as {
    model?: string;
    messages?: unknown[];
    stream_options?: { include_usage?: boolean };
  };
  ok(outbound.model === UPSTREAM_MODEL, `upstream request_body: model rewritten to ${UPSTREAM_MODEL}`, outbound.model);
  ok(outbound.messages?.length === 4, 'upstream request_body: messages preserved');
  if (stream) ok(outbound.stream_options?.include_usage === true, 'upstream request_body: asks the backend for usage');
  const tagged = common(uRespHeaders, 'response_headers', 'upstream response_headers');
  ok(
    setHeader(tagged, BACKEND_HEADER) === BACKEND,
    `upstream response_headers: sets ${BACKEND_HEADER}: ${BACKEND}`,
    tagged.header_mutation,
  );
  ok(uRest.length === 0, 'upstream stream: one response per message');

  // The client learns which backend served it from the tag the upstream stage set; the router stage leaves it be.
  const served = common(rRespHeaders, 'response_headers', 'router response_headers');
  const touched =
    setHeader(served, BACKEND_HEADER) !== undefined ||
    served.header_mutation?.remove_headers?.includes(BACKEND_HEADER) === true;
  ok(
    !touched,
    `router response_headers: leaves ${BACKEND_HEADER} as the upstream stage set it`,
    served.header_mutation,
  );
  if (stream) {
    ok(
      rRespHeaders?.mode_override?.response_body_mode === 'STREAMED',
      'router response_headers: mode_override STREAMED',
      rRespHeaders?.mode_override,
    );
  } else {
    ok(
      rRespHeaders?.mode_override == null,
      'router response_headers: no mode_override for JSON',
      rRespHeaders?.mode_override,
    );
  }

  const expectedBodies = stream ? SSE_RESPONSE_CHUNKS.length : 1;
  ok(rRespBodies.length === expectedBodies, `router: ${expectedBodies} response_body responses`, rRespBodies.length);
  rRespBodies.forEach((response, i) => {
    const c = common(response, 'response_body', `router response_body #${i}`);
    if (stream && i === SSE_USAGE_CHUNK_INDEX) {
      // The client did not ask for usage: the usage-only chunk the upstream stage requested is dropped.
      const cleared = c.body_mutation?.clear_body === true || (c.body_mutation?.body?.length ?? -1) === 0;
      ok(cleared, 'router response_body: drops the usage chunk the client did not ask for', c.body_mutation);
    } else {
      ok(c.body_mutation == null, `router response_body #${i}: passes the bytes through untouched`, c.body_mutation);
    }
  });
  const last = rRespBodies[rRespBodies.length - 1];
  ok(
    metadataField(last?.dynamic_metadata, 'total_tokens')?.numberValue === USAGE.total_tokens,
    'router last response_body: usage metadata',
    last?.dynamic_metadata,
  );
  ok(
    metadataField(last?.dynamic_metadata, 'prompt_tokens')?.numberValue === USAGE.prompt_tokens,
    'router last response_body: prompt tokens',
  );
  ok(
    metadataField(last?.dynamic_metadata, 'backend')?.stringValue === BACKEND,
    'router last response_body: metadata names the backend',
  );
  return checks;
}
