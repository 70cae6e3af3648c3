// The peers bench's child processes: started in their own process group with their output in a log file, all
// recorded so that every one is stopped at the end, on error and on Ctrl-C (SIGTERM to its group, SIGKILL after a
// grace period). Only processes this bench started are ever signalled, by their own pid/process group.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  readonly logFile: string | undefined;
  /** Started detached, as the leader of its own process group (signalled as a group). */
  readonly group: boolean;
  /** The last lines of its output (for error messages). */
  logTail(lines?: number): string;
  readonly exited: Promise<void>;
  hasExited(): boolean;
}

const running = new Set<Child>();
const stoppers = new Set<() => Promise<void>>();

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalGroup(child: Child, signal: NodeJS.Signals): void {
  if (!isAlive(child.process)) return;
  if (!child.group) {
    child.process.kill(signal);
    return;
  }
  try {
    process.kill(-child.pid, signal); // its own process group: the child and whatever it started
  } catch {
    child.process.kill(signal);
  }
}

/** Spawns `command` detached (own process group) with stdout and stderr appended to `logFile`. */
export function spawnLogged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions & { logFile: string },
): Child {
  const fd = openSync(options.logFile, 'a');
  const { logFile, ...spawnOptions } = options;
  let child: ChildProcess;
  try {
    child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  return register(name, child, { logFile, group: true });
}

/** Records a child started elsewhere (e.g. fork with IPC) so that it is stopped with the others. */
export function register(
  name: string,
  child: ChildProcess,
  options: { logFile?: string; group?: boolean } = {},
): Child {
  const { logFile, group = false } = options;
  if (child.pid === undefined) throw new Error(`${name}: could not start (${logFile ? `see ${logFile}` : 'no pid'})`);
  const exited = new Promise<void>((resolve) => {
    if (!isAlive(child)) resolve();
    else child.once('exit', () => resolve());
  });
  const entry: Child = {
    name,
    process: child,
    pid: child.pid,
    logFile,
    group,
    logTail: (lines = 25) => {
      if (!logFile) return '';
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    exited,
    hasExited: () => !isAlive(child),
  };
  running.add(entry);
  void exited.then(() => running.delete(entry));
  return entry;
}

/** Something else to stop at the end (e.g. an Envoy from startEnvoy). */
export function onStop(stop: () => Promise<void>): void {
  stoppers.add(stop);
}

export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.hasExited()) return;
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
  // A member of its group that outlived the leader (e.g. a worker) gets the same end.
  if (child.group) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already empty
    }
  }
}

/** Stops everything this bench started; safe to call more than once. */
export async function stopAll(): Promise<void> {
  const pending = [...stoppers].map((stop) => stop().catch(() => undefined));
  stoppers.clear();
  await Promise.all([...pending, ...[...running].map((child) => stopChild(child))]);
}

/** Last resort on process exit: SIGKILL every group still running (synchronous). */
export function killAllNow(): void {
  for (const child of running) signalGroup(child, 'SIGKILL');
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `url` (GET) until `accept(status, body)` or the timeout; fails early when `child` exits. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  child: Child | undefined,
  accept: (status: number, body: string) => boolean = (status) => status === 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    if (child?.hasExited())
      throw new Error(
        `${child.name} exited during start-up (exit code ${child.process.exitCode}, signal ${child.process.signalCode})\n${child.logTail()}`,
      );
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      if (accept(res.status, body)) return;
      last = `HTTP ${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${child?.name ?? url} not ready within ${timeoutMs} ms (${url}: ${last})${child ? `\n${child.logTail()}` : ''}`,
      );
    }
    await sleep(100);
  }
}

export function logPath(dir: string, name: string): string {
  return path.join(dir, `${name}.log`);
}
