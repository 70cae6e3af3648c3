// The messages between the cluster primary and its ext_proc workers (Node's IPC channel, JSON). Each side checks
// what it receives with these schemas: a message from another version of the code, or a bug, is dropped and
// logged rather than acted on. Every message carries `llmx` so other users of the channel (cluster itself,
// prom-client) are told apart.
import { z } from 'zod';
import { METRICS, WINDOWS } from '../budget/config.js';
import { CHECK_NAMES } from '../health/config.js';

const amounts = z.object(
  Object.fromEntries(METRICS.map((m) => [m, z.number()])) as Record<(typeof METRICS)[number], z.ZodNumber>,
);
const counterRef = z.object({
  id: z.string(),
  subject: z.string(),
  level: z.enum(['organisation', 'team', 'key', 'workload']),
  window: z.enum(WINDOWS),
  start: z.number(),
  end: z.number(),
});
const check = z.object({
  counter: z.number().int().min(0),
  limit: z.object({
    kind: z.enum(['quota', 'rate']),
    window: z.enum(WINDOWS),
    metric: z.enum(METRICS),
    amount: z.number(),
  }),
});

/** A BudgetStore call a worker makes on the primary's ledger of the budgets config `key` (budgetsKey()). */
const storeCallSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('reserve'),
    req: z.object({
      id: z.string(),
      counters: z.array(counterRef),
      checks: z.array(check),
      amounts,
      expiresAt: z.number(),
    }),
  }),
  z.object({ op: z.literal('settle'), id: z.string(), actual: amounts }),
  z.object({ op: z.literal('release'), id: z.string() }),
  z.object({ op: z.literal('read'), counters: z.array(counterRef) }),
]);
export type StoreCall = z.infer<typeof storeCallSchema>;

/** Worker → primary. */
export const fromWorkerSchema = z.discriminatedUnion('kind', [
  /**
   * The worker listens for messages: a cluster worker's channel reads from the start, so anything sent before its
   * modules are loaded would be lost; the primary sends 'start' only after this.
   */
  z.object({ llmx: z.literal(1), kind: z.literal('hello') }),
  /** The ext_proc server is bound (the port every worker shares). */
  z.object({ llmx: z.literal(1), kind: z.literal('listening'), port: z.number().int() }),
  /** Start failed; the primary gives up on this start (a bad config or an unusable address fails every worker). */
  z.object({ llmx: z.literal(1), kind: z.literal('failed'), error: z.string() }),
  /** Budget store calls made in one turn of the worker's event loop, applied in order (one message, not one each). */
  z.object({
    llmx: z.literal(1),
    kind: z.literal('store'),
    calls: z.array(z.object({ id: z.number().int(), key: z.string(), call: storeCallSchema })),
  }),
  /** Checked responses (batched like store calls): the primary's monitor scores them; nothing is answered. */
  z.object({
    llmx: z.literal(1),
    kind: z.literal('verdicts'),
    batch: z.array(
      z.object({
        backend: z.string(),
        model: z.string(),
        results: z.array(z.object({ check: z.enum(CHECK_NAMES), pass: z.boolean(), detail: z.string() })),
      }),
    ),
  }),
  /** prom-client's getMetricsAsJSON() of the worker's registry, answering a 'metrics' request. */
  z.object({ llmx: z.literal(1), kind: z.literal('metrics'), id: z.number().int(), metrics: z.array(z.unknown()) }),
  z.object({ llmx: z.literal(1), kind: z.literal('drained'), forced: z.boolean(), cutStreams: z.number().int() }),
]);
export type FromWorker = z.infer<typeof fromWorkerSchema>;

/** Primary → worker. `config` is a ServiceConfig the primary validated (checked again by the config schema). */
export const toWorkerSchema = z.discriminatedUnion('kind', [
  z.object({
    llmx: z.literal(1),
    kind: z.literal('start'),
    configFile: z.string(),
    config: z.unknown(),
    generation: z.number().int(),
    ready: z.boolean(),
  }),
  z.object({ llmx: z.literal(1), kind: z.literal('config'), config: z.unknown(), generation: z.number().int() }),
  /** The primary's readiness (tokenizer, draining): the workers' grpc health follows it and their own. */
  z.object({ llmx: z.literal(1), kind: z.literal('ready'), ready: z.boolean() }),
  /** Answers to one 'store' message, by call id. */
  z.object({
    llmx: z.literal(1),
    kind: z.literal('store'),
    replies: z.array(
      z.object({ id: z.number().int(), ok: z.boolean(), value: z.unknown(), error: z.string().optional() }),
    ),
  }),
  z.object({ llmx: z.literal(1), kind: z.literal('metrics'), id: z.number().int() }),
  z.object({ llmx: z.literal(1), kind: z.literal('drain'), boundMs: z.number().int(), graceMs: z.number().int() }),
]);
export type ToWorker = z.infer<typeof toWorkerSchema>;

/** Distributive Omit: a message without its `llmx` tag, as the senders build it. */
type Untagged<T> = T extends unknown ? Omit<T, 'llmx'> : never;
export type ToWorkerBody = Untagged<ToWorker>;
export type FromWorkerBody = Untagged<FromWorker>;

/** Whether a message on the channel is ours at all (others belong to cluster or prom-client). */
export function isOurs(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { llmx?: unknown }).llmx === 1;
}

/** Collects items and hands them over once per turn of the event loop (setImmediate): fewer, larger IPC messages. */
export class Outbox<T> {
  #items: T[] = [];
  #scheduled = false;

  constructor(private readonly flush: (items: T[]) => void) {}

  push(item: T): void {
    this.#items.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const items = this.#items;
      this.#items = [];
      this.flush(items);
    });
  }
}
