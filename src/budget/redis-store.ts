// RedisStore: budgets shared by every replica. One Lua script (one round trip, atomic) per reserve, settle, release
// and reap batch. Standalone Redis (or Sentinel); the scripts touch keys they read from the reservation record, so
// Redis Cluster is not supported.
//
// Keys (prefix P):
//   P c:<counter id>   hash  u<i> used / r<i> reserved per metric i (METRICS order); PEXPIREAT window end + grace
//   P r:<reservation>  string JSON {k: counter keys, e: their expiry, a: reserved amounts as strings}
//   P reservations     zset  reservation id → expiresAt (ms), what the reaper scans
import { Redis } from 'ioredis';
import { METRICS } from './config.js';
import type { Amounts, CounterRef } from './ledger.js';
import {
  COUNTER_GRACE_MS,
  type BudgetStore,
  type CounterValues,
  type ReserveRequest,
  type ReserveResult,
} from './store.js';

const M = METRICS.length;

// KEYS: counters 1..n, reservation key, zset.
// ARGV: n, nChecks, id, expiresAt, payload, amounts[M], counter expireAt[n], checks (counter index 1-based, metric index, limit)*.
const RESERVE = `
local n = tonumber(ARGV[1])
local nc = tonumber(ARGV[2])
local amount = {}
for m = 0, ${M - 1} do amount[m] = ARGV[6 + m] end
local base = ${6 + M} + n
local current = {}
local ok = 1
-- ioredis resends a command whose reply was lost on a dropped connection: a reservation that already exists
-- was applied by the first run and must not be counted twice.
local replay = redis.call('EXISTS', KEYS[n + 1]) == 1
for i = 0, nc - 1 do
  local ci = tonumber(ARGV[base + 3 * i])
  local m = ARGV[base + 3 * i + 1]
  local v = redis.call('HMGET', KEYS[ci], 'u' .. m, 'r' .. m)
  local cur = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
  current[i + 1] = cur
  if not replay and cur + tonumber(amount[tonumber(m)]) > tonumber(ARGV[base + 3 * i + 2]) then ok = 0 end
end
if ok == 1 and not replay then
  for ci = 1, n do
    for m = 0, ${M - 1} do
      if amount[m] ~= '0' then redis.call('HINCRBY', KEYS[ci], 'r' .. m, amount[m]) end
    end
    redis.call('PEXPIREAT', KEYS[ci], ARGV[${5 + M} + ci])
  end
  redis.call('SET', KEYS[n + 1], ARGV[5])
  redis.call('PEXPIREAT', KEYS[n + 1], tonumber(ARGV[4]) + 86400000)
  redis.call('ZADD', KEYS[n + 2], ARGV[4], ARGV[3])
end
table.insert(current, 1, ok)
return current
`;

// Applies a reservation record: reserved -= a, used += actual (ARGV[first .. first + M - 1]).
const APPLY = `
local function apply(resKey, id, zset, first)
  redis.call('ZREM', zset, id)
  local payload = redis.call('GET', resKey)
  if not payload then return 0 end
  redis.call('DEL', resKey)
  local r = cjson.decode(payload)
  for i, key in ipairs(r.k) do
    for m = 0, ${M - 1} do
      local a = r.a[m + 1]
      if a ~= '0' then redis.call('HINCRBY', key, 'r' .. m, '-' .. a) end
      local act = first and ARGV[first + m] or '0'
      if act ~= '0' then redis.call('HINCRBY', key, 'u' .. m, act) end
    end
    redis.call('PEXPIREAT', key, r.e[i])
  end
  return 1
end
`;

// KEYS: reservation key, zset. ARGV: id, actual[M] (zeros for release).
const SETTLE = `${APPLY}
return apply(KEYS[1], ARGV[1], KEYS[2], 2)
`;

// KEYS: zset. ARGV: now, reservation key prefix, batch size.
const REAP = `${APPLY}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local released = 0
for _, id in ipairs(ids) do released = released + apply(ARGV[2] .. id, id, KEYS[1], nil) end
return {#ids, released}
`;

export interface RedisStoreOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  /** Connection-level errors (the command-level ones reject the call). */
  readonly onConnectionError?: (err: Error) => void;
}

interface ScriptedRedis extends Redis {
  budgetReserve(...args: Array<string | number>): Promise<number[]>;
  budgetSettle(...args: Array<string | number>): Promise<number>;
  budgetReap(...args: Array<string | number>): Promise<[number, number]>;
}

const REAP_BATCH = 100;

function integer(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`budget amount ${n} is not a safe integer`);
  return String(n);
}

export class RedisStore implements BudgetStore {
  readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.prefix = options.keyPrefix;
    const redis = new Redis(options.url, {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1000, options.commandTimeoutMs),
      maxRetriesPerRequest: 1,
      // Reconnect forever with a capped backoff; commands issued meanwhile fail after commandTimeoutMs.
      retryStrategy: (times) => Math.min(50 * times, 2000),
      lazyConnect: false,
    });
    redis.on('error', (err: Error) => options.onConnectionError?.(err));
    redis.defineCommand('budgetReserve', { lua: RESERVE });
    redis.defineCommand('budgetSettle', { numberOfKeys: 2, lua: SETTLE });
    redis.defineCommand('budgetReap', { numberOfKeys: 1, lua: REAP });
    this.redis = redis as ScriptedRedis;
  }

  private counterKey(ref: CounterRef): string {
    return `${this.prefix}c:${ref.id}`;
  }

  private reservationKey(id: string): string {
    return `${this.prefix}r:${id}`;
  }

  private get zset(): string {
    return `${this.prefix}reservations`;
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    const keys = req.counters.map((c) => this.counterKey(c));
    const expiries = req.counters.map((c) => integer(c.end + COUNTER_GRACE_MS));
    const amounts = METRICS.map((m) => integer(req.amounts[m]));
    const payload = JSON.stringify({ k: keys, e: expiries, a: amounts });
    const checks = req.checks.flatMap((c) => [c.counter + 1, METRICS.indexOf(c.limit.metric), integer(c.limit.amount)]);
    const reply = await this.redis.budgetReserve(
      keys.length + 2,
      ...keys,
      this.reservationKey(req.id),
      this.zset,
      keys.length,
      req.checks.length,
      req.id,
      integer(req.expiresAt),
      payload,
      ...amounts,
      ...expiries,
      ...checks,
    );
    return { granted: reply[0] === 1, current: reply.slice(1).map(Number) };
  }

  async settle(reservationId: string, actual: Amounts): Promise<boolean> {
    const reply = await this.redis.budgetSettle(
      this.reservationKey(reservationId),
      this.zset,
      reservationId,
      ...METRICS.map((m) => integer(actual[m])),
    );
    return reply === 1;
  }

  release(reservationId: string): Promise<boolean> {
    return this.settle(reservationId, { requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 });
  }

  async reapExpired(now: number): Promise<number> {
    let released = 0;
    for (;;) {
      const [seen, done] = await this.redis.budgetReap(
        this.zset,
        integer(Math.floor(now)),
        `${this.prefix}r:`,
        REAP_BATCH,
      );
      released += done;
      if (seen < REAP_BATCH) return released;
    }
  }

  async read(counters: readonly CounterRef[]): Promise<CounterValues[]> {
    if (counters.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const c of counters) pipeline.hgetall(this.counterKey(c));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      const hash = (value ?? {}) as Record<string, string>;
      const pick = (prefix: 'u' | 'r') =>
        Object.fromEntries(METRICS.map((m, i) => [m, Number(hash[`${prefix}${i}`] ?? 0)])) as Amounts;
      return { used: pick('u'), reserved: pick('r') };
    });
  }

  /** Open reservations (tests and diagnostics). */
  openReservations(): Promise<number> {
    return this.redis.zcard(this.zset);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }
}
