// Operator pins shared by every replica through the Redis budget store (when budgets use one): an action writes
// the pin to one hash (`<keyPrefix>health:pins`, field = backend, value = the pin as JSON) and applies it locally;
// every replica reads the hash every few seconds and takes it as the truth for pins. Verdicts are not shared
// (docs/health.md "Several replicas" says why). Without a Redis store pins stay per replica.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { errorMessage, log } from '../telemetry/log.js';
import type { HealthMonitor, Pin } from './monitor.js';

export interface SharedPinStore {
  readonly client: Redis;
  readonly keyPrefix: string;
}

const pinSchema = z.strictObject({
  health: z.enum(['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'DRAINING']),
  weight: z.number().int().min(1).optional(),
  since: z.number().int().nonnegative(),
  reason: z.string().max(200).optional(),
});

/** Parses the hash's fields; entries that are not pins (hand-edited, another version) are skipped. Pure. */
export function parsePins(fields: Readonly<Record<string, string>>): Map<string, Pin> {
  const out = new Map<string, Pin>();
  for (const [backend, text] of Object.entries(fields)) {
    try {
      const parsed = pinSchema.safeParse(JSON.parse(text));
      if (parsed.success)
        out.set(backend, {
          health: parsed.data.health,
          weight: parsed.data.weight,
          since: parsed.data.since,
          reason: parsed.data.reason,
        });
    } catch {
      // not JSON: skipped
    }
  }
  return out;
}

export function serialisePin(pin: Pin): string {
  return JSON.stringify({
    health: pin.health,
    ...(pin.weight === undefined ? {} : { weight: pin.weight }),
    since: pin.since,
    ...(pin.reason === undefined ? {} : { reason: pin.reason }),
  });
}

export interface PinSharing {
  /** Writes (pin) or deletes (undefined) a backend's shared pin. False when there is no shared store or it failed. */
  write(backend: string, pin: Pin | undefined): Promise<boolean>;
  /** Reads the shared pins into the monitor now (the timer does it every intervalMs). */
  sync(): Promise<void>;
  close(): void;
}

export function sharePins(options: {
  readonly monitor: HealthMonitor;
  readonly store: () => SharedPinStore | undefined;
  readonly intervalMs?: number;
}): PinSharing {
  const key = (store: SharedPinStore) => `${store.keyPrefix}health:pins`;
  let failing = false;
  /** Bumped by every local write: a read that started before it may predate it and is not applied. */
  let writes = 0;
  const sync = async () => {
    const store = options.store();
    if (!store) return;
    const startedAt = writes;
    try {
      const fields = await store.client.hgetall(key(store));
      if (startedAt === writes) options.monitor.replacePins(parsePins(fields));
      failing = false;
    } catch (err) {
      // Keep the pins we have; say so once per outage.
      if (!failing)
        log.warn('shared pins could not be read from Redis; keeping the current ones', { error: errorMessage(err) });
      failing = true;
    }
  };
  const timer = setInterval(() => void sync(), options.intervalMs ?? 2000);
  timer.unref();
  return {
    write: async (backend, pin) => {
      const store = options.store();
      if (!store) return false;
      writes++;
      try {
        if (pin) await store.client.hset(key(store), backend, serialisePin(pin));
        else await store.client.hdel(key(store), backend);
        return true;
      } catch (err) {
        log.warn('shared pin could not be written to Redis; applied on this replica only', {
          backend,
          error: errorMessage(err),
        });
        return false;
      }
    },
    sync,
    close: () => clearInterval(timer),
  };
}
