// A real Envoy process started from a bootstrap: for `npm start`, the tests and the benchmarks. Flags that work in
// containers and CI: no hot restart (it needs shared memory and a domain socket), admin on loopback with its
// port read back from --admin-address-path, listener ports read back from the admin API (so port 0 works).
import type { AccessLogLine } from './access-log.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { envoyBinary } from './binary.js';

export interface EnvoyOptions {
  /** The bootstrap, YAML or JSON text. Its admin address should be loopback (port 0 is fine). */
  readonly bootstrap: string;
  /** Worker threads. Default 1: deterministic on small machines. */
  readonly concurrency?: number;
  /** Envoy's own log level (stderr). Default warn. */
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical' | 'off';
  /** e.g. "ext_proc:debug". */
  readonly componentLogLevel?: string;
  /** Each access-log line (stdout, one JSON object per line). */
  readonly onAccessLog?: (entry: AccessLogLine) => void;
  /** Each line Envoy writes to stderr (its own logs). Default: kept in a bounded tail for error messages. */
  readonly onLog?: (line: string) => void;
  readonly startTimeoutMs?: number;
  /** How often Envoy flushes access-log output. Default 100 ms (Envoy's own default is 10 s). */
  readonly fileFlushIntervalMs?: number;
}

export interface RunningEnvoy {
  readonly pid: number;
  readonly adminUrl: string;
  /** Bound port of each listener by name. */
  readonly listenerPorts: ReadonlyMap<string, number>;
  /** GET on the admin API; resolves with the status and body text. */
  admin(pathAndQuery: string, method?: 'GET' | 'POST'): Promise<{ status: number; body: string }>;
  /** The last lines Envoy wrote to stderr (for failure messages). */
  logTail(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop(): Promise<void>;
  /** Resolves with the exit code when the process exits on its own or is stopped. */
  readonly exited: Promise<number | null>;
}

const TAIL_LINES = 60;

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function httpGet(url: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

interface ListenerStatus {
  name?: string;
  local_address?: { socket_address?: { port_value?: number } };
}

export async function startEnvoy(options: EnvoyOptions): Promise<RunningEnvoy> {
  const binary = await envoyBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-extproc-envoy-'));
  const configFile = path.join(dir, 'bootstrap.yaml');
  const adminAddressFile = path.join(dir, 'admin-address');
  writeFileSync(configFile, options.bootstrap);
  const args = [
    '-c',
    configFile,
    '--disable-hot-restart',
    '--concurrency',
    String(options.concurrency ?? 1),
    '--log-level',
    options.logLevel ?? 'warn',
    '--admin-address-path',
    adminAddressFile,
    // Stopping a test Envoy should not wait out the default 10-minute drain.
    '--drain-time-s',
    '1',
    '--parent-shutdown-time-s',
    '2',
    // Access-log lines are flushed every 10 s by default; tests and a developer's terminal want them at once.
    '--file-flush-interval-msec',
    String(options.fileFlushIntervalMs ?? 100),
    ...(options.componentLogLevel ? ['--component-log-level', options.componentLogLevel] : []),
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  lines(child.stderr, (line) => {
    if (options.onLog) options.onLog(line);
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  });
  lines(child.stdout, (line) => {
    if (!line.startsWith('{')) return;
    try {
      options.onAccessLog?.(JSON.parse(line) as Record<string, unknown>);
    } catch {
      tail.push(`unparsable access log line: ${line}`);
    }
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const logTail = () => tail.join('\n');
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exitCode === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    const fail = (why: string) =>
      new Error(`Envoy did not start: ${why}\n--- envoy stderr (last lines) ---\n${logTail()}`);
    let adminUrl: string | undefined;
    while (!adminUrl) {
      if (exitCode !== undefined) throw fail(`it exited with code ${exitCode}`);
      if (Date.now() > deadline) throw fail('no admin address within the start timeout');
      if (existsSync(adminAddressFile)) {
        const address = readFileSync(adminAddressFile, 'utf8').trim();
        if (address) adminUrl = `http://${address}`;
      }
      if (!adminUrl) await sleep(20);
    }
    // /ready answers 200 once the server is LIVE (listeners bound, static clusters initialised).
    for (;;) {
      if (exitCode !== undefined) throw fail(`it exited with code ${exitCode}`);
      if (Date.now() > deadline) throw fail('admin /ready never answered 200');
      const ready = await httpGet(`${adminUrl}/ready`).catch(() => undefined);
      if (ready?.status === 200) break;
      await sleep(20);
    }
    const listeners = JSON.parse((await httpGet(`${adminUrl}/listeners?format=json`)).body) as {
      listener_statuses?: ListenerStatus[];
    };
    const listenerPorts = new Map<string, number>();
    for (const status of listeners.listener_statuses ?? []) {
      const port = status.local_address?.socket_address?.port_value;
      if (status.name && port !== undefined) listenerPorts.set(status.name, port);
    }
    const base = adminUrl;
    return {
      pid: child.pid ?? -1,
      adminUrl: base,
      listenerPorts,
      admin: (pathAndQuery, method = 'GET') => httpGet(`${base}${pathAndQuery}`, method),
      logTail,
      stop,
      exited,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
