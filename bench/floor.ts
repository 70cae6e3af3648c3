// The transport floor: an ext_proc server on the same grpc-js, the same proto loading and the same server options
// as the real one, that answers every message with the matching empty response (CONTINUE, no mutation).
// Whatever the real server costs above this is the price of llm-extproc's own work.
import * as grpc from '@grpc/grpc-js';
import type { ProcessingRequest__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { externalProcessorService } from '../src/protos/load.js';

type ProcessCall = grpc.ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

function handle(call: ProcessCall): void {
  call.on('data', (message: ProcessingRequest__Output) => {
    if (message.request === undefined) {
      call.destroy(Object.assign(new Error('empty ProcessingRequest'), { code: grpc.status.INVALID_ARGUMENT }));
      return;
    }
    call.write({ [message.request]: {} });
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

export async function startFloorServer(address: string): Promise<{ port: number; close(): void }> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  server.addService(externalProcessorService(), { Process: handle });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return { port, close: () => server.forceShutdown() };
}
