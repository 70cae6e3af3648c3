// Load-generator child: plays Envoy against one server for one scenario. Validates (real server only), warms up,
// waits for the orchestrator to mark the server's CPU, then runs the measured exchanges. Started by run.ts only.
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../src/telemetry/log.js';
import { createClient, runExchange, runMany } from './exchange.js';
import { toParent, type LoadJob, type ToLoad } from './ipc.js';
import { validateRealExchange } from './validate.js';

const VALIDATION_EXCHANGES = 3;

let go: (() => void) | undefined;
const goSignal = new Promise<void>((resolve) => (go = resolve));

async function run(job: LoadJob): Promise<void> {
  const client = createClient(job.port);
  const { stream, warmup, count, name, promptBytes } = job.scenario;
  try {
    let seq = 0;
    if (job.validate) {
      let checks = 0;
      for (let i = 0; i < VALIDATION_EXCHANGES; i++) {
        const record = await runExchange(client, stream, seq++, promptBytes);
        try {
          checks += validateRealExchange(record, stream);
        } catch (err) {
          throw new Error(
            `${name}: the ${job.kind} server answered wrongly, refusing to benchmark a broken path: ${errorMessage(err)}`,
            {
              cause: err,
            },
          );
        }
      }
      toParent({ type: 'validated', checks });
    }
    await runMany(client, stream, warmup, job.concurrency, seq, promptBytes);
    seq += warmup;
    toParent({ type: 'warm' });
    await goSignal;
    const started = performance.now();
    const { latenciesMs, messages } = await runMany(client, stream, count, job.concurrency, seq, promptBytes);
    const wallMs = performance.now() - started;
    latenciesMs.sort((a, b) => a - b);
    toParent({ type: 'done', result: { exchanges: latenciesMs.length, messages, wallMs, latenciesMs } });
  } finally {
    client.close();
  }
}

process.on('message', (message: ToLoad) => {
  switch (message.type) {
    case 'job':
      run(message.job).catch((err: unknown) => toParent({ type: 'error', message: errorMessage(err) }));
      return;
    case 'go':
      go?.();
      return;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
