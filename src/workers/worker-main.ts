// Entry of an ext_proc worker process (cluster.setupPrimary's exec in src/workers/primary.ts).
import { errorMessage, log } from '../telemetry/log.js';
import { runWorker } from './worker.js';

// As in the CLI: a bug in one request must not take every other request down with it.
process.on('unhandledRejection', (reason) => log.error('unhandled promise rejection', { error: errorMessage(reason) }));
runWorker();
