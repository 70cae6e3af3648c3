// Server child: runs one ext_proc server (the real llm-extproc service or the transport floor) and measures its own
// CPU over the window the orchestrator marks. Usage (by run.ts only): node dist/bench/server.js <real|floor> [profileDir]
// BENCH_FLOOR_TRANSPORT=http2 in the environment makes the floor the grpc-js-free one (bench/floor.ts): what the
// transport itself costs.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { ConfigStore } from '../src/config/store.js';
import { startExtProcServer } from '../src/extproc/server.js';
import { AccountingHolder, encodingsForConfig } from '../src/service-accounting.js';
import { configFromYaml } from '../src/testing/config.js';
import { setLogLevel } from '../src/telemetry/log.js';
import { errorMessage } from '../src/telemetry/log.js';
import { BENCH_CONFIG_YAML, BENCH_ENV } from './fixtures.js';
import { startFloorServer, startRawFloorServer } from './floor.js';
import { toParent, type ToServer } from './ipc.js';

const kind = process.argv[2];
const profileDir = process.argv[3];

async function start(): Promise<number> {
  if (kind === 'floor')
    return process.env.BENCH_FLOOR_TRANSPORT === 'http2'
      ? (await startRawFloorServer('127.0.0.1:0')).port
      : (await startFloorServer('127.0.0.1:0')).port;
  if (kind === 'real') {
    const config = configFromYaml(BENCH_CONFIG_YAML);
    setLogLevel(config.logging.level);
    const store = new ConfigStore('bench-config.yaml', config, BENCH_ENV);
    // Budgets on, as in src/service.ts: identification, prompt counting, reservation and settlement are measured.
    const accounting = new AccountingHolder();
    await accounting.apply(config.budgets, encodingsForConfig(config));
    if (!accounting.current()) throw new Error('bench config has no budgets');
    return (await startExtProcServer(store, '127.0.0.1:0', undefined, { accounting: () => accounting.current() })).port;
  }
  throw new Error(`unknown server kind '${String(kind)}' (expected real or floor)`);
}

/** CPU (ms) of the main thread and of all other threads, from /proc (10 ms resolution). Linux only. */
function threadCpuMs(): Map<string, number> {
  const byName = new Map<string, number>();
  try {
    const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      // Node names every thread "node"; all but the main one are V8 platform workers (concurrent GC, JIT) and libuv.
      const name = tid === String(process.pid) ? 'main' : 'other';
      const fields = stat.slice(close + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
      byName.set(name, (byName.get(name) ?? 0) + ticks / ticksPerMs);
    }
  } catch {
    // not Linux: no breakdown
  }
  return byName;
}

let markThreads = new Map<string, number>();
let markCpu: NodeJS.CpuUsage | undefined;
let markWall = 0n;
let session: Session | undefined;

async function onMessage(message: ToServer): Promise<void> {
  switch (message.type) {
    case 'mark': {
      // Collect the warm-up's garbage now so it is not billed to the measured window (needs --expose-gc).
      (globalThis as { gc?: () => void }).gc?.();
      if (profileDir) {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 200 });
        await session.post('Profiler.start');
      }
      markThreads = threadCpuMs();
      markWall = process.hrtime.bigint();
      markCpu = process.cpuUsage();
      toParent({ type: 'marked' });
      return;
    }
    case 'stop': {
      if (!markCpu) throw new Error("'stop' before 'mark'");
      const cpu = process.cpuUsage(markCpu);
      const wallMs = Number(process.hrtime.bigint() - markWall) / 1e6;
      const memory = process.memoryUsage();
      const threadsMs: Record<string, number> = {};
      for (const [name, ms] of threadCpuMs()) {
        const delta = ms - (markThreads.get(name) ?? 0);
        if (delta > 0) threadsMs[name] = delta;
      }
      let profileFile: string | undefined;
      if (session && profileDir) {
        const { profile } = await session.post('Profiler.stop');
        session.disconnect();
        session = undefined;
        profileFile = path.join(profileDir, `${message.label}.cpuprofile`);
        writeFileSync(profileFile, JSON.stringify(profile));
      }
      markCpu = undefined;
      toParent({
        type: 'stopped',
        cpuUs: cpu.user + cpu.system,
        wallMs,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        threadsMs,
        ...(profileFile ? { profileFile } : {}),
      });
      return;
    }
    case 'exit':
      process.exit(0);
  }
}

process.on('message', (message: ToServer) => {
  onMessage(message).catch((err: unknown) => toParent({ type: 'error', message: errorMessage(err) }));
});
process.on('disconnect', () => process.exit(0)); // the orchestrator died: never linger

start().then(
  (port) => toParent({ type: 'ready', port }),
  (err: unknown) => {
    toParent({ type: 'error', message: `server failed to start: ${errorMessage(err)}` });
    process.exitCode = 1;
    process.disconnect?.();
  },
);
