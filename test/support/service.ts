// Starts the real service on free loopback ports from a YAML config, behind a real Envoy 1.40 started from the
// bootstrap `llm-extproc envoy-bootstrap` generates for that config (the default), or behind the stand-in data
// plane (`via: 'stand-in'`, for comparisons). Either way the test gets one base URL and one access log shape.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { parseConfig, formatProblems } from '../../src/config/load.js';
import type { Environment } from '../../src/config/topology.js';
import { startService, type RunningService } from '../../src/service.js';
import type { AccessLogEntry } from '../../src/dataplane/server.js';
import { buildBootstrap } from '../../src/envoyconfig/bootstrap.js';
import type { ExtprocClientTls } from '../../src/envoyconfig/blocks.js';
import { startEnvoy, type RunningEnvoy } from '../../src/envoy/process.js';
import { validateWithEnvoy } from '../../src/envoy/validate.js';
import { fieldText, type AccessLogLine } from '../../src/envoy/access-log.js';
import { METADATA_NAMESPACE } from '../../src/extproc/contract.js';
import type { JsonObject } from '../../src/util/json.js';
import { startH2Tap, type H2Tap } from '../../bench/h2-tap.js';

export type Via = 'envoy' | 'stand-in';

/** One upstream attempt as the access log tells it. */
export interface LoggedAttempt {
  readonly backend: string;
  /** The upstream status code, or a failure reason. */
  readonly outcome: string;
}

/** One client request as the access log tells it, the same for Envoy and the stand-in. */
export interface LoggedRequest {
  readonly requestId: string;
  readonly responseCode: number;
  readonly responseCodeDetails: string;
  readonly attempts: readonly LoggedAttempt[];
  /** The router stage's dynamic metadata, by namespace (only `llm-extproc` is accepted). */
  readonly dynamicMetadata: Record<string, JsonObject | undefined>;
}

/** Listeners on free loopback ports and quiet logs, merged under whatever the test's YAML says. */
function withLoopbackListeners(yaml: string, via: Via): string {
  const config = (parse(yaml) ?? {}) as Record<string, Record<string, unknown> | undefined>;
  for (const listener of ['extproc', 'admin', 'dataPlane'])
    config[listener] = { address: '127.0.0.1:0', ...config[listener] };
  if (via === 'envoy') config.dataPlane = { ...config.dataPlane, enabled: false };
  config.logging = { level: 'error', ...config.logging };
  return stringify(config);
}

export type TestService = RunningService & {
  readonly via: Via;
  readonly configFile: string;
  readonly baseUrl: string;
  readonly adminUrl: string;
  /** Requests logged so far, oldest first. Envoy writes a line when a request ends: use lastRequest() to wait for it. */
  readonly accessLog: LoggedRequest[];
  /** The envoy process (via 'envoy' only). */
  readonly envoy: RunningEnvoy | undefined;
  /** The HTTP/2 tap between Envoy and the service, counting ext_proc messages (option `tap`). */
  readonly tap: H2Tap | undefined;
  /** Waits until every request the proxy has finished is logged, then returns the last one. */
  lastRequest(): Promise<LoggedRequest | undefined>;
};

export interface TestServiceOptions {
  readonly via?: Via;
  /** Envoy's own log level, e.g. 'debug' when investigating. */
  readonly envoyLogLevel?: 'debug' | 'info' | 'warn';
  /** Envoy's client side of the mutual TLS to the service (for a config with extproc.tls). */
  readonly extprocTls?: ExtprocClientTls;
  /** Put an HTTP/2 tap (bench/h2-tap.ts, counting messages) between Envoy and the service. */
  readonly tap?: boolean;
  /** Changes to the generated bootstrap before Envoy starts. */
  readonly bootstrap?: (bootstrap: JsonObject) => void;
  /** Envoy worker threads (default 1); each opens its own ext_proc connection, which ext_proc workers share out. */
  readonly envoyConcurrency?: number;
}

function fromStandIn(entry: AccessLogEntry): LoggedRequest {
  return {
    requestId: entry.requestId,
    responseCode: entry.responseCode,
    responseCodeDetails: entry.responseCodeDetails,
    attempts: entry.attempts.map((a) => ({ backend: a.backend, outcome: a.outcome })),
    dynamicMetadata: entry.dynamicMetadata,
  };
}

/** Turns Envoy's JSON access-log lines (generated bootstrap format) into LoggedRequests. */
class EnvoyLogCollector {
  readonly requests: LoggedRequest[] = [];
  readonly #attempts = new Map<string, LoggedAttempt[]>();

  add(line: AccessLogLine): void {
    const requestId = fieldText(line.request_id);
    if (line.log_type === 'upstream_attempt') {
      const attempts = this.#attempts.get(requestId) ?? [];
      const code = Number(line.response_code);
      attempts.push({
        backend: fieldText(line.backend),
        outcome: code > 0 ? String(code) : fieldText(line.response_flags, 'reset'),
      });
      this.#attempts.set(requestId, attempts);
      return;
    }
    const metadata = line.llm_extproc;
    this.requests.push({
      requestId,
      responseCode: Number(line.response_code),
      responseCodeDetails: fieldText(line.response_code_details),
      attempts: this.#attempts.get(requestId) ?? [],
      dynamicMetadata: metadata && typeof metadata === 'object' ? { [METADATA_NAMESPACE]: metadata as JsonObject } : {},
    });
    this.#attempts.delete(requestId);
  }
}

/** Backends whose credentials are missing in this environment. */
export function disabledBackends(service: RunningService): ReadonlySet<string> {
  return new Set(
    [...service.store.current().topology.backends.values()].filter((b) => b.disabledReason).map((b) => b.name),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function completedRequests(envoy: RunningEnvoy): Promise<number> {
  const { body } = await envoy.admin('/stats?filter=^http\\.llm_ingress\\.downstream_rq_completed$&format=json');
  const stats = (JSON.parse(body) as { stats?: { name: string; value: number }[] }).stats ?? [];
  return stats[0]?.value ?? 0;
}

export async function startTestService(
  yaml: string,
  env: Environment,
  options: TestServiceOptions = {},
): Promise<TestService> {
  // LLM_EXTPROC_TEST_VIA=stand-in runs the whole e2e suite through the stand-in instead, for comparisons.
  const via = options.via ?? (process.env.LLM_EXTPROC_TEST_VIA === 'stand-in' ? 'stand-in' : 'envoy');
  const text = withLoopbackListeners(yaml, via);
  const result = parseConfig(text);
  if (!result.ok) throw new Error(formatProblems('test config', result.problems));
  const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'llm-extproc-e2e-')), 'config.yaml');
  writeFileSync(configFile, text);
  const accessLog: LoggedRequest[] = [];
  const service = await startService({
    configFile,
    config: result.config,
    env,
    accessLog: (entry) => accessLog.push(fromStandIn(entry)),
  });
  const adminUrl = `http://127.0.0.1:${service.adminPort}`;
  if (via === 'stand-in') {
    return {
      ...service,
      via,
      configFile,
      accessLog,
      envoy: undefined,
      tap: undefined,
      baseUrl: `http://127.0.0.1:${service.dataPlanePort}/v1`,
      adminUrl,
      lastRequest: async () => accessLog.at(-1),
    };
  }

  const collector = new EnvoyLogCollector();
  let envoy: RunningEnvoy;
  let tap: H2Tap | undefined;
  try {
    if (options.tap === true)
      tap = await startH2Tap({ host: '127.0.0.1', port: service.extprocPort }, { countMessages: true });
    const generated = buildBootstrap(result.config, {
      listen: '127.0.0.1:0',
      admin: '127.0.0.1:0',
      extproc: `127.0.0.1:${tap?.port ?? service.extprocPort}`,
      disabledBackends: disabledBackends(service),
      ...(options.extprocTls ? { extprocTls: options.extprocTls } : {}),
    });
    options.bootstrap?.(generated);
    const bootstrap = JSON.stringify(generated);
    // Every bootstrap a test generates is also checked the way users are told to check theirs.
    const validation = await validateWithEnvoy(bootstrap);
    if (!validation.ok || validation.deprecations.length > 0)
      throw new Error(`envoy --mode validate rejects the test bootstrap:\n${validation.output}`);
    envoy = await startEnvoy({
      bootstrap,
      onAccessLog: (line) => collector.add(line),
      ...(options.envoyConcurrency ? { concurrency: options.envoyConcurrency } : {}),
      ...(options.envoyLogLevel
        ? { logLevel: options.envoyLogLevel, onLog: (line: string) => process.stderr.write(`envoy: ${line}\n`) }
        : {}),
    });
  } catch (err) {
    await tap?.close();
    await service.close();
    throw err;
  }
  const port = envoy.listenerPorts.get('llm_ingress');
  return {
    ...service,
    via,
    configFile,
    accessLog: collector.requests,
    envoy,
    tap,
    baseUrl: `http://127.0.0.1:${port}/v1`,
    adminUrl,
    lastRequest: async () => {
      const deadline = Date.now() + 5000;
      // Envoy logs a request when its stream is destroyed, which can be just after the client has its response.
      while (collector.requests.length < (await completedRequests(envoy)) && Date.now() < deadline) await sleep(10);
      return collector.requests.at(-1);
    },
    close: async () => {
      await envoy.stop();
      await tap?.close();
      await service.close();
    },
  };
}
