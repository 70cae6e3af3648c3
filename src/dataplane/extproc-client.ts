// One ExternalProcessor/Process stream as Envoy's ext_proc filter drives it: opened on the first message, then a
// strict request → response exchange with a per-message timer (message_timeout). Closing (EXT_PROC_STREAM_CLOSE):
//   graceful — the end of the HTTP stream, an immediate response: half-close, wait for the server's status, reset
//              after remoteCloseTimeoutMs (Envoy's halfCloseAndDeleteOnRemoteClose with the runtime flag on);
//   abrupt   — message_timeout, a rejected or spurious answer: half-close and reset at once (closeStream()).
// On the wire (src/dataplane/parity/stream-order.test.ts) Envoy resets with RST_STREAM(INTERNAL_ERROR), grpc-js with
// CANCEL; and where Envoy's abrupt close follows a processor answer only its RST_STREAM leaves, whereas node's
// Http2Stream.close() always ends the writable side (END_STREAM) first.
import * as grpc from '@grpc/grpc-js';
import { loadServiceProtos } from '../protos/load.js';
import type { ExternalProcessorClient } from '../generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { ProcessingRequest } from '../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { EXT_PROC_STREAM_CLOSE } from './filters.js';

export type CloseHow = 'graceful' | 'abrupt';

export type ExchangeResult =
  | { readonly kind: 'response'; readonly response: ProcessingResponse__Output }
  /** The server ended the stream with status OK before answering: Envoy continues without the processor. */
  | { readonly kind: 'closed' }
  | { readonly kind: 'error'; readonly code: number; readonly details: string }
  | { readonly kind: 'timeout' }
  /** The server sent a message while none was outstanding (reported at the next exchange). */
  | { readonly kind: 'unsolicited' };

export function createExtProcClient(target: string): ExternalProcessorClient {
  const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
  return new Client(target, grpc.credentials.createInsecure());
}

type Call = grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output>;

export class ProcessStream {
  private call: Call | undefined;
  private waiter: ((result: ExchangeResult) => void) | undefined;
  private finished: ExchangeResult | undefined;
  private unsolicited = false;
  private closedByUs = false;
  private sent = 0;

  constructor(
    private readonly client: ExternalProcessorClient,
    private readonly initialMetadata: readonly { readonly key: string; readonly value: string }[],
    private readonly onIgnoredMessage: (why: string) => void = () => {},
  ) {}

  get opened(): boolean {
    return this.call !== undefined;
  }

  get messagesSent(): number {
    return this.sent;
  }

  /** Sends one message and waits for its answer (or the stream's end, or the timer). One exchange at a time. */
  exchange(request: ProcessingRequest, timeoutMs: number): Promise<ExchangeResult> {
    if (this.waiter !== undefined) throw new Error('ext_proc exchange already in flight');
    if (this.closedByUs) return Promise.resolve({ kind: 'closed' });
    if (this.finished !== undefined) return Promise.resolve(this.finished);
    if (this.unsolicited) return Promise.resolve({ kind: 'unsolicited' });
    const call = this.open();
    return new Promise<ExchangeResult>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiter = (result) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(result);
      };
      this.sent += 1;
      call.write(request);
    });
  }

  /** Ends the stream (see the header comment). Safe to call more than once. */
  close(how: CloseHow = 'graceful'): void {
    if (this.closedByUs) return;
    this.closedByUs = true;
    const call = this.call;
    if (call === undefined) return;
    if (this.finished === undefined) {
      call.end();
      if (how === 'abrupt' || !EXT_PROC_STREAM_CLOSE.graceful) {
        call.cancel();
      } else {
        const timer = setTimeout(() => call.cancel(), EXT_PROC_STREAM_CLOSE.remoteCloseTimeoutMs);
        timer.unref();
        call.on('status', () => clearTimeout(timer));
      }
    }
    this.settle({ kind: 'closed' });
  }

  private open(): Call {
    if (this.call !== undefined) return this.call;
    const metadata = new grpc.Metadata();
    for (const { key, value } of this.initialMetadata) metadata.add(key, value);
    const call = this.client.Process(metadata);
    call.on('data', (response: ProcessingResponse__Output) => this.onMessage(response));
    // Non-OK statuses also surface as 'error'; 'status' is the one place we act on them.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      if (this.closedByUs) return;
      const result: ExchangeResult =
        status.code === grpc.status.OK
          ? { kind: 'closed' }
          : { kind: 'error', code: status.code, details: status.details };
      this.finished = result;
      this.settle(result);
    });
    this.call = call;
    return call;
  }

  private onMessage(response: ProcessingResponse__Output): void {
    if (this.closedByUs) return;
    // Filter::onReceiveMessage returns early for override_message_timeout; without max_message_timeout configured
    // the new timeout is ignored, and so is everything else in that message.
    if (response.override_message_timeout !== undefined) {
      this.onIgnoredMessage(
        'override_message_timeout received but max_message_timeout is not configured: message ignored',
      );
      return;
    }
    if (this.waiter === undefined) {
      this.unsolicited = true;
      this.onIgnoredMessage(`unsolicited ${response.response ?? 'empty'} message while no message was outstanding`);
      return;
    }
    this.waiter({ kind: 'response', response });
  }

  private settle(result: ExchangeResult): void {
    const waiter = this.waiter;
    if (waiter !== undefined) waiter(result);
  }
}
