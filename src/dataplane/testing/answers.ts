// Test helper: builders for the answers a scripted ext_proc server sends.
import type { HeaderMutation__Output } from '../../generated/envoy/service/ext_proc/v3/HeaderMutation.js';
import type { CommonResponse } from '../../generated/envoy/service/ext_proc/v3/CommonResponse.js';

/** set_headers with raw_value (what Envoy reads) and remove_headers. Usable as input and as decoded output. */
export function headerMutation(
  set: Record<string, string> = {},
  remove: readonly string[] = [],
  append = false,
): HeaderMutation__Output {
  return {
    set_headers: Object.entries(set).map(([key, value]) => ({
      header: { key, raw_value: Buffer.from(value, 'latin1') },
      ...(append ? { append: { value: true } } : {}),
    })),
    remove_headers: [...remove],
  };
}

export function replaceBody(body: string): CommonResponse['body_mutation'] {
  return { body: Buffer.from(body) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
