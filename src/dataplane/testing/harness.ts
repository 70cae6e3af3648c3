// Test helper: a data plane wired to a scripted fake ext_proc server, with a topology built from a service config
// fragment, an HTTP client for it, and the access log / event log captured in memory.
import * as http from 'node:http';
import { serviceConfigSchema } from '../../config/schema.js';
import { resolveTopology, type Topology } from '../../config/topology.js';
import {
  startDataPlane,
  type AccessLogEntry,
  type DataPlane,
  type DataPlaneEvent,
  type DataPlaneSettings,
} from '../server.js';
import { startFakeExtProc, type FakeExtProc, type Script } from './fake-extproc.js';

export interface BackendFixture {
  readonly name: string;
  readonly baseUrl: string;
  readonly priority?: number;
  /** The backend's key variable is unset, so it is disabled. */
  readonly disabled?: boolean;
}

export interface RouteFixture {
  readonly model: string;
  readonly backends: readonly { readonly backend: string; readonly priority?: number; readonly weight?: number }[];
}

export function makeTopology(backends: readonly BackendFixture[], routes: readonly RouteFixture[]): Topology {
  const config = serviceConfigSchema.parse({
    backends: backends.map((b) => ({
      name: b.name,
      provider: 'openai-compatible',
      baseUrl: b.baseUrl,
      priority: b.priority ?? 0,
      ...(b.disabled === true ? { apiKeyEnv: 'LLM_EXTPROC_TEST_UNSET_KEY' } : {}),
    })),
    routes: routes.map((r) => ({ model: r.model, backends: r.backends.map((b) => ({ ...b })) })),
  });
  return resolveTopology(config, {});
}

export const TEST_SETTINGS: DataPlaneSettings = {
  bufferLimitBytes: 64 * 1024,
  numRetries: 2,
  retriableStatusCodes: [429, 500, 502, 503, 504],
  messageTimeoutMs: 2_000,
  routeTimeoutMs: 5_000,
};

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Body chunks as they arrived. */
  readonly chunks: readonly string[];
}

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Sent with transfer-encoding chunked in these pieces. */
  readonly chunkedBody?: readonly string[];
}

export interface Harness {
  readonly extproc: FakeExtProc;
  readonly dataPlane: DataPlane;
  readonly accessLog: AccessLogEntry[];
  readonly events: DataPlaneEvent[];
  request(options?: RequestOptions): Promise<HttpResult>;
  /** Resolves with the access-log entry number `index` (0-based) once it is written. */
  accessLogEntry(index?: number, timeoutMs?: number): Promise<AccessLogEntry>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly script: Script;
  readonly topology: Topology;
  readonly settings?: Partial<DataPlaneSettings>;
  readonly random?: () => number;
}

export function httpRequest(port: number, options: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.chunkedBody === undefined && options.body !== undefined)
      headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/v1/chat/completions',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: string[] = [];
        res.on('data', (c: Buffer) => chunks.push(c.toString('latin1')));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join(''), chunks }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.chunkedBody !== undefined) {
      for (const piece of options.chunkedBody) req.write(piece);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const extproc = await startFakeExtProc(options.script);
  const accessLog: AccessLogEntry[] = [];
  const events: DataPlaneEvent[] = [];
  const logWaiters: Array<() => void> = [];
  const settings: DataPlaneSettings = { ...TEST_SETTINGS, ...options.settings };
  const dataPlane = await startDataPlane({
    host: '127.0.0.1',
    port: 0,
    extprocTarget: extproc.target,
    topology: () => options.topology,
    settings: () => settings,
    accessLog: (entry) => {
      accessLog.push(entry);
      for (const w of logWaiters.splice(0)) w();
    },
    log: (event) => events.push(event),
    ...(options.random !== undefined ? { random: options.random } : {}),
  });
  return {
    extproc,
    dataPlane,
    accessLog,
    events,
    request: (requestOptions) => httpRequest(dataPlane.port, requestOptions),
    accessLogEntry: async (index = 0, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (accessLog.length <= index) {
        if (Date.now() > deadline) throw new Error(`access log entry ${index} not written`);
        await new Promise<void>((resolve) => {
          logWaiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      const entry = accessLog[index];
      if (entry === undefined) throw new Error('unreachable');
      return entry;
    },
    close: async () => {
      await dataPlane.close();
      await extproc.close();
    },
  };
}
