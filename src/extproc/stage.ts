// What the gRPC server needs from a stage: one handler per Process stream, fed Envoy's messages in order.
import type { ProcessingRequest__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';

/**
 * How a Process stream ended: `ended` — Envoy half-closed it (normal after the last message, or when the
 * downstream went away before the exchange finished); `cancelled` — reset by Envoy or the network; `error` —
 * we failed it.
 */
export type StreamEnd = 'ended' | 'cancelled' | 'error';

export interface StageHandler {
  /** Exactly one response per request message (ext_proc rule). May throw: the server then closes the stream with an error. */
  handle(message: ProcessingRequest__Output): ProcessingResponse | Promise<ProcessingResponse>;
  /** Called once when the stream ends, however it ends. */
  close(how: StreamEnd): void;
}
