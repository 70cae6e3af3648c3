// Health metrics on the process registry. Labels are config names (backends), check names and fixed results.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../telemetry/metrics.js';

export const healthMetrics = {
  verdicts: new Counter({
    name: 'llm_extproc_verdicts_total',
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
    help: 'Published health state per backend (HEALTHY, DEGRADED, UNHEALTHY, DRAINING; after pins and the panic rule): 1 for the current state, 0 for the others.',
    labelNames: ['backend', 'state'] as const,
    registers: [registry],
  }),
  weight: new Gauge({
    name: 'llm_extproc_backend_weight',
    help: 'Published load-balancing weight per backend (the config weight, or a pin).',
    labelNames: ['backend'] as const,
    registers: [registry],
  }),
  pinned: new Gauge({
    name: 'llm_extproc_backend_pinned',
    help: '1 while an operator pin (admin POST /backends/<name>/pin or drain) overrides the verdicts, else 0.',
    labelNames: ['backend'] as const,
    registers: [registry],
  }),
  probes: new Counter({
    name: 'llm_extproc_health_probes_total',
    help: 'Active probes by backend and outcome: sent, skipped_paid (a backend that costs money, paidBackends off), skipped_budget (the probe budget refused).',
    labelNames: ['backend', 'outcome'] as const,
    registers: [registry],
  }),
};
