// Test helpers for driving a stage handler with Envoy-shaped messages, without gRPC.
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { BACKEND_ATTRIBUTE, EXT_PROC_FILTER_NAME } from './contract.js';

function headerMap(headers: Record<string, string>) {
  return {
    headers: Object.entries(headers).map(([key, value]) => ({ key, value: '', raw_value: Buffer.from(value) })),
  };
}

export function requestHeaders(
  headers: Record<string, string>,
  endOfStream = false,
  backend?: string,
  attribute: string = BACKEND_ATTRIBUTE,
): ProcessingRequest__Output {
  const message: ProcessingRequest__Output = {
    request: 'request_headers',
    request_headers: { headers: headerMap(headers), end_of_stream: endOfStream },
  };
  if (backend !== undefined) {
    message.attributes = {
      [EXT_PROC_FILTER_NAME]: { fields: { [attribute]: { stringValue: backend, kind: 'stringValue' } } },
    };
  }
  return message;
}

export function requestBody(body: string | Buffer, endOfStream = true): ProcessingRequest__Output {
  return { request: 'request_body', request_body: { body: Buffer.from(body), end_of_stream: endOfStream } };
}

export function responseHeaders(headers: Record<string, string>, endOfStream = false): ProcessingRequest__Output {
  return { request: 'response_headers', response_headers: { headers: headerMap(headers), end_of_stream: endOfStream } };
}

export function responseBody(body: string | Buffer, endOfStream: boolean): ProcessingRequest__Output {
  return { request: 'response_body', response_body: { body: Buffer.from(body), end_of_stream: endOfStream } };
}

export const CHAT_HEADERS = {
  ':method': 'POST',
  ':path': '/v1/chat/completions',
  'content-type': 'application/json',
  'x-request-id': 'req-1',
};

type Common = NonNullable<NonNullable<ProcessingResponse['request_body']>['response']>;

/** The CommonResponse inside whichever phase the response answers. */
export function common(response: ProcessingResponse): Common | undefined {
  const phase =
    response.request_headers ?? response.request_body ?? response.response_headers ?? response.response_body;
  return phase?.response ?? undefined;
}

export function setHeaders(response: ProcessingResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const option of common(response)?.header_mutation?.set_headers ?? []) {
    const raw = option.header?.raw_value;
    if (option.header?.key)
      out[option.header.key] = raw === undefined ? (option.header.value ?? '') : Buffer.from(raw as Buffer).toString();
  }
  return out;
}

export function immediate(
  response: ProcessingResponse,
): { status: number; body: Record<string, unknown>; headers: Record<string, string> } | undefined {
  const imm = response.immediate_response;
  if (!imm) return undefined;
  const headers: Record<string, string> = {};
  for (const option of imm.headers?.set_headers ?? []) {
    if (option.header?.key)
      headers[option.header.key] = Buffer.from((option.header.raw_value ?? '') as Buffer).toString();
  }
  return { status: Number(imm.status?.code), body: JSON.parse(Buffer.from(imm.body as Buffer).toString()), headers };
}

/** Reads our namespace out of a response's dynamic metadata. */
export function metadataValues(response: ProcessingResponse, namespace: string): Record<string, unknown> {
  const ns = response.dynamic_metadata?.fields?.[namespace]?.structValue?.fields ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ns)) out[key] = value.stringValue ?? value.numberValue ?? value.boolValue;
  return out;
}
