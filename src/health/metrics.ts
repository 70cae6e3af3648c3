// Health metrics on the process registry. Labels are config names (backends), check names and fixed results.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../telemetry/metrics.js';

export const healthMetrics = {
  verdicts: new Counter({
    name: 'llm_extproc_health_verdicts_total',
    help: 'Semantic health verdicts by backend, check (passive checks and probe) and result (pass, fail).',
    labelNames: ['backend', 'check', 'result'] as const,
    registers: [registry],
  }),
  score: new Gauge({
    name: 'llm_extproc_backend_score',
    help: 'EWMA failure score per backend (0 healthy … 1 failing every observation).',
    labelNames: ['backend'] as const,
    registers: [registry],
  }),
  state: new Gauge({
    name: 'llm_extproc_backend_state',
    help: 'Published health state per backend: 1 for the current state, 0 for the others.',
    labelNames: ['backend', 'state'] as const,
    registers: [registry],
  }),
};
