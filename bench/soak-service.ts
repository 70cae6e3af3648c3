// Service child of bench/soak.ts: runs the whole llm-extproc service (startService: ext_proc gRPC, admin with
// /metrics) from a config file in its own process, so its memory is measured alone. Reports its ports, then its
// memory every second, over IPC. Started by soak.ts only: node dist/bench/soak-service.js <config.yaml>
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { formatProblems, parseConfig } from '../src/config/load.js';
import { startService } from '../src/service.js';
import { errorMessage } from '../src/telemetry/log.js';

export type FromSoakService =
  | { readonly type: 'ready'; readonly extprocPort: number; readonly adminPort: number }
  | { readonly type: 'memory'; readonly at: number; readonly rssBytes: number; readonly heapUsedBytes: number }
  | {
      readonly type: 'collected';
      readonly rssBytes: number;
      readonly heapUsedBytes: number;
      /** V8's committed heap (new space included), external memory and ArrayBuffers: where RSS goes. */
      readonly heapTotalBytes: number;
      readonly externalBytes: number;
      readonly arrayBuffersBytes: number;
    }
  | { readonly type: 'snapshot-written'; readonly file: string }
  | { readonly type: 'closed' }
  | { readonly type: 'error'; readonly message: string };
export type ToSoakService =
  { readonly type: 'close' } | { readonly type: 'gc' } | { readonly type: 'heap-snapshot'; readonly file: string };
// Import only the types from here (import type): importing this module runs the service.

function toParent(message: FromSoakService): void {
  if (!process.send) throw new Error('soak-service must be started by bench/soak.js (no IPC channel)');
  process.send(message);
}

async function main(): Promise<void> {
  const configFile = process.argv[2];
  if (!configFile) throw new Error('usage: soak-service.js <config.yaml>');
  const result = parseConfig(readFileSync(configFile, 'utf8'));
  if (!result.ok) throw new Error(formatProblems(configFile, result.problems));
  const service = await startService({ configFile, config: result.config, env: process.env });
  if (service.adminPort === undefined) throw new Error('the soak needs the admin listener (/metrics)');
  const sample = () => {
    const memory = process.memoryUsage();
    toParent({ type: 'memory', at: Date.now(), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed });
  };
  const sampler = setInterval(sample, 1000);
  sample();
  toParent({ type: 'ready', extprocPort: service.extprocPort, adminPort: service.adminPort });
  process.on('message', (message: ToSoakService) => {
    if (message.type === 'gc') {
      // Full collections (needs --expose-gc; soak.ts forks with it), then the memory left: what is really retained.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const memory = process.memoryUsage();
      toParent({
        type: 'collected',
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
        arrayBuffersBytes: memory.arrayBuffers,
      });
      return;
    }
    if (message.type === 'heap-snapshot') {
      toParent({ type: 'snapshot-written', file: v8.writeHeapSnapshot(message.file) });
      return;
    }
    clearInterval(sampler);
    service.close().then(
      () => {
        toParent({ type: 'closed' });
        process.disconnect?.();
      },
      (err: unknown) => toParent({ type: 'error', message: `close failed: ${errorMessage(err)}` }),
    );
  });
}

process.on('disconnect', () => process.exit(0)); // the orchestrator is gone: never linger
main().catch((err: unknown) => {
  toParent({ type: 'error', message: `service failed to start: ${errorMessage(err)}` });
  process.exitCode = 1;
  process.disconnect?.();
});
