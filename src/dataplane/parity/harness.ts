// Parity harness: one scenario — a scripted ext_proc, scripted fake upstreams, one client request — run once through
// the stand-in data plane (src/dataplane/server.ts) and once through the real Envoy 1.40 started from the bootstrap
// the product ships (buildBootstrap), both pointed at the same fake processor and the same upstreams. It records:
//   * what the processor SAW, per stream: stage, message kinds in order, end_of_stream flags, headers, attributes,
//     body bytes, and how the stream ended ON THE WIRE (the h2 tap: END_STREAM / RST_STREAM(code) per side);
//   * what the CLIENT GOT: status, headers, body, or a reset;
//   * what each UPSTREAM GOT: method, path, headers, body;
//   * what the access log said: response code, details, attempts, dynamic metadata.
// `normalise` removes what legitimately differs (docs/dataplane.md lists each rule and why); `differences` compares.
//
// One bench per test file: the fake processor, the upstreams, the stand-in and ONE Envoy start once and serve every
// scenario of the file in turn (sequentially), with the script and upstream handlers swapped per scenario. Each
// scenario gets its own route (model) so that Envoy's per-cluster state (outlier detection) cannot leak across.
import * as http from 'node:http';
import { serviceConfigSchema, type ServiceConfig } from '../../config/schema.js';
import { resolveTopology, type Topology } from '../../config/topology.js';
import { ROUTE_HEADER, METADATA_NAMESPACE, EXT_PROC_FILTER_NAME } from '../../extproc/contract.js';
import { buildBootstrap } from '../../envoyconfig/bootstrap.js';
import { fieldText } from '../../envoy/access-log.js';
import { startEnvoy, type RunningEnvoy } from '../../envoy/process.js';
import type { ProcessingRequest__Output } from '../../generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { HeaderMap__Output } from '../../generated/envoy/config/core/v3/HeaderMap.js';
import {
  startDataPlane,
  type AccessLogEntry,
  type DataPlane,
  type DataPlaneEvent,
  type DataPlaneSettings,
} from '../server.js';
import { structToJson } from '../metadata.js';
import type { JsonObject, JsonValue } from '../../util/json.js';
import {
  startFakeUpstream,
  type FakeUpstream,
  type RecordedRequest,
  type UpstreamHandler,
} from '../testing/fake-upstream.js';
import { startFakeProcessor, type ProcessorScript, type ProcessorStream } from './fake-processor.js';
import { continueFor, passThrough, stageScripts } from '../testing/script.js';

export type Via = 'stand-in' | 'envoy';
export const VIAS: readonly Via[] = ['stand-in', 'envoy'];

// ---------------------------------------------------------------------------------------------------------------
// Scripts

export { continueFor, passThrough };

/** A script per stage; stages without one pass through. */
export const byStage: (scripts: { router?: ProcessorScript; upstream?: ProcessorScript }) => ProcessorScript =
  stageScripts;

/** Answers CONTINUE to each listed kind in turn (they must arrive in that order). */
export async function continueThrough(
  stream: ProcessorStream,
  kinds: readonly NonNullable<ProcessingRequest__Output['request']>[],
): Promise<void> {
  for (const kind of kinds) stream.send(continueFor(await stream.expect(kind)));
}

// ---------------------------------------------------------------------------------------------------------------
// What is observed

export interface MessageSeen {
  readonly kind: string;
  readonly endOfStream: boolean | undefined;
  /** Header messages: name → value (raw_value, duplicates joined with ","). */
  readonly headers?: Record<string, string>;
  /** Header messages: names in the order sent. */
  readonly headerNames?: readonly string[];
  /** Header messages: every value came in `raw_value` (and none in `value`). */
  readonly rawValues?: boolean;
  /** Body messages: the bytes as latin1 text. */
  readonly body?: string;
  /** ProcessingRequest.attributes as JSON, when present. */
  readonly attributes?: Record<string, JsonObject>;
}

export interface StreamSeen {
  readonly stage: string;
  readonly messages: readonly MessageSeen[];
  /** Closing frames as the tap saw them after the stream opened, e.g. ["client END_STREAM", "client RST_STREAM(CANCEL)"]. */
  readonly wire: readonly string[];
  /** Milliseconds from the client's first closing frame to its reset, if both happened. */
  readonly resetDelayMs: number | undefined;
}

export interface ClientGot {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly chunks: readonly string[];
  /** The connection was reset / closed before a complete response. */
  readonly reset: boolean;
  readonly error: string | undefined;
  readonly ms: number;
}

export interface UpstreamGot {
  readonly upstream: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface AttemptLogged {
  readonly backend: string;
  /** The upstream status code as a string, or what went wrong. */
  readonly outcome: string;
  /** Dynamic metadata of the attempt (the upstream stage's), namespace llm-extproc. */
  readonly metadata: JsonObject | undefined;
}

export interface Logged {
  readonly responseCode: number;
  readonly details: string;
  readonly attempts: readonly AttemptLogged[];
  /** The router stage's dynamic metadata, namespace llm-extproc. */
  readonly metadata: JsonObject | undefined;
  /** Envoy only: %RESPONSE_FLAGS%. */
  readonly flags?: string;
}

export interface Observation {
  readonly via: Via;
  readonly client: ClientGot;
  readonly extproc: readonly StreamSeen[];
  readonly upstream: readonly UpstreamGot[];
  readonly log: Logged | undefined;
  readonly scriptErrors: readonly string[];
  /** Stand-in only: its diagnostic events. */
  readonly events: readonly DataPlaneEvent[];
}

function headersOf(map: HeaderMap__Output | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of map?.headers ?? []) {
    const key = h.key ?? '';
    const value =
      h.raw_value !== undefined && h.raw_value.length > 0 ? h.raw_value.toString('latin1') : (h.value ?? '');
    out[key] = out[key] === undefined ? value : `${out[key]},${value}`;
  }
  return out;
}

function messageSeen(m: ProcessingRequest__Output): MessageSeen {
  const kind = m.request ?? 'unknown';
  const attributes =
    m.attributes !== undefined && Object.keys(m.attributes).length > 0
      ? Object.fromEntries(Object.entries(m.attributes).map(([k, v]) => [k, structToJson(v)]))
      : undefined;
  const base = attributes !== undefined ? { attributes } : {};
  switch (m.request) {
    case 'request_headers':
    case 'response_headers': {
      const h = m.request === 'request_headers' ? m.request_headers : m.response_headers;
      const list = h?.headers?.headers ?? [];
      return {
        kind,
        endOfStream: h?.end_of_stream ?? false,
        headers: headersOf(h?.headers),
        headerNames: list.map((x) => x.key ?? ''),
        rawValues: list.every((x) => x.raw_value !== undefined && (x.value ?? '') === ''),
        ...base,
      };
    }
    case 'request_body':
    case 'response_body': {
      const b = m.request === 'request_body' ? m.request_body : m.response_body;
      return {
        kind,
        endOfStream: b?.end_of_stream ?? false,
        body: (b?.body ?? Buffer.alloc(0)).toString('latin1'),
        ...base,
      };
    }
    default:
      return { kind, endOfStream: undefined, ...base };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client

export interface ClientRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Sent with transfer-encoding chunked in these pieces. */
  readonly chunkedBody?: readonly string[];
  /** The client destroys its connection this many ms after the upstream got the request (client abort). */
  readonly abortAfterUpstreamMs?: number;
  readonly timeoutMs?: number;
}

/** The Host every scenario sends, so that :authority is the same through both data planes. */
export const PARITY_HOST = 'parity.test';

function clientRequest(port: number, request: ClientRequest, upstreamSeen: () => boolean): Promise<ClientGot> {
  const started = Date.now();
  return new Promise((resolve) => {
    const headers: Record<string, string> = { host: PARITY_HOST, ...(request.headers ?? {}) };
    if (request.chunkedBody === undefined && request.body !== undefined)
      headers['content-length'] = String(Buffer.byteLength(request.body));
    const chunks: string[] = [];
    let status = 0;
    let responseHeaders: Record<string, string> = {};
    let settled = false;
    const done = (reset: boolean, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        status,
        headers: responseHeaders,
        body: chunks.join(''),
        chunks,
        reset,
        error,
        ms: Date.now() - started,
      });
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method ?? 'POST',
        path: request.path ?? '/v1/chat/completions',
        headers,
        agent: false,
      },
      (res) => {
        status = res.statusCode ?? 0;
        responseHeaders = {};
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          const name = (res.rawHeaders[i] ?? '').toLowerCase();
          const value = res.rawHeaders[i + 1] ?? '';
          responseHeaders[name] = responseHeaders[name] === undefined ? value : `${responseHeaders[name]},${value}`;
        }
        res.on('data', (c: Buffer) => chunks.push(c.toString('latin1')));
        res.on('end', () => done(!res.complete, res.complete ? undefined : 'incomplete response'));
        res.on('error', (e) => done(true, e.message));
        res.on('aborted', () => done(true, 'aborted'));
        res.on('close', () => done(!res.complete, res.complete ? undefined : 'closed before the end'));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done(true, 'client timeout');
    }, request.timeoutMs ?? 8_000);
    req.on('error', (e) => done(true, e.message));
    if (request.abortAfterUpstreamMs !== undefined) {
      const wait = async (): Promise<void> => {
        for (let i = 0; i < 250 && !upstreamSeen(); i++) await sleep(20);
        await sleep(request.abortAfterUpstreamMs ?? 0);
        req.destroy();
        done(true, 'client aborted');
      };
      void wait();
    }
    if (request.chunkedBody !== undefined) {
      for (const piece of request.chunkedBody) req.write(piece);
      req.end();
    } else {
      req.end(request.body);
    }
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// The bench

export interface BackendSpec {
  /** A fake upstream server runs for it, unless `url` is given. */
  readonly priority?: number;
  /** Where the backend lives instead of a fake upstream (e.g. a dead port). */
  readonly url?: string;
  /** Its key variable is unset: disabled (left out of Envoy's clusters, unhealthy in the stand-in). */
  readonly disabled?: boolean;
}

export interface RouteSpec {
  readonly backends: readonly { readonly backend: string; readonly priority?: number; readonly weight?: number }[];
}

export interface BenchOptions {
  readonly backends: Readonly<Record<string, BackendSpec>>;
  /** model → its backends; route header value is `llm.<model>`. */
  readonly routes: Readonly<Record<string, RouteSpec>>;
  readonly settings?: Partial<DataPlaneSettings>;
  /** Changes to the generated bootstrap (for rows the product config does not express). */
  readonly bootstrap?: (bootstrap: JsonObject) => void;
  /**
   * Keep the product's `local_reply_config` (OpenAI-shaped bodies for ext_proc failures). Default false: it is
   * removed, because the stand-in does not reproduce it and the rows compare Envoy's own local replies.
   */
  readonly productLocalReplies?: boolean;
  /** Which data planes to start (default both). */
  readonly vias?: readonly Via[];
}

export interface Scenario {
  /** The model whose route the request takes (header x-llm-extproc-route: llm.<model>) unless `routeHeader` says otherwise. */
  readonly model?: string;
  /** The routing header value sent by the client; null = none. */
  readonly routeHeader?: string | null;
  readonly script: ProcessorScript;
  /** Upstream handlers by backend name (default: 200 with {"served_by": name}). */
  readonly upstreams?: Readonly<Record<string, UpstreamHandler>>;
  readonly request?: ClientRequest;
  /**
   * The processor finishes each stream with status OK as soon as the client half-closes it, as the service does
   * (default true). False: it never finishes on its own, so the client's own way of ending the stream shows.
   */
  readonly finishOnHalfClose?: boolean;
  /** How long to wait for the processor streams to close after the client is done (default 1500 ms). */
  readonly settleMs?: number;
}

export interface Bench {
  readonly config: ServiceConfig;
  readonly envoy: RunningEnvoy | undefined;
  /** The bootstrap Envoy runs (the product's, with the bench's changes). */
  readonly bootstrap: JsonObject | undefined;
  run(via: Via, scenario: Scenario): Promise<Observation>;
  /** The scenario through the stand-in, then through Envoy. */
  both(scenario: Scenario): Promise<Record<Via, Observation>>;
  close(): Promise<void>;
}

export const DEFAULT_BODY = '{"model":"m","messages":[]}';

/** 200, JSON body naming the upstream, content-length. */
export function jsonOk(name: string): UpstreamHandler {
  return (_req, res) => {
    const body = JSON.stringify({ served_by: name });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

export function statusReply(code: number, body = '', headers: Record<string, string> = {}): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(code, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}

/** Envoy's access-log lines (generated format) for one request. */
interface EnvoyLines {
  readonly request: Readonly<Record<string, unknown>>;
  readonly attempts: readonly Readonly<Record<string, unknown>>[];
}

function metadataOf(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0
    ? (value as JsonObject)
    : undefined;
}

function fromEnvoyLines(lines: EnvoyLines): Logged {
  return {
    responseCode: Number(lines.request.response_code ?? 0),
    details: fieldText(lines.request.response_code_details),
    flags: fieldText(lines.request.response_flags),
    metadata: metadataOf(lines.request.llm_extproc),
    attempts: lines.attempts.map((a) => {
      const code = Number(a.response_code ?? 0);
      return {
        backend: fieldText(a.backend),
        outcome: code > 0 ? String(code) : `flags:${fieldText(a.response_flags)}`,
        metadata: metadataOf(a.llm_extproc),
      };
    }),
  };
}

function fromStandInEntry(entry: AccessLogEntry): Logged {
  return {
    responseCode: entry.responseCode,
    details: entry.responseCodeDetails,
    metadata: metadataOf(entry.dynamicMetadata[METADATA_NAMESPACE]),
    // The stand-in keeps no per-attempt metadata (Envoy 1.40 writes it into the request's, like the router stage).
    attempts: entry.attempts.map((a) => ({ backend: a.backend, outcome: a.outcome, metadata: undefined })),
  };
}

type JsonObj = { [key: string]: JsonValue };

function path(root: JsonObj, ...keys: Array<string | number>): JsonValue | undefined {
  let current: JsonValue | undefined = root;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) ? current[key as number] : current[key as string];
  }
  return current;
}

/** The generated bootstrap's HTTP connection manager config. */
export function connectionManager(bootstrap: JsonObject): JsonObj {
  const hcm = path(bootstrap, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config');
  if (hcm === undefined || hcm === null || typeof hcm !== 'object' || Array.isArray(hcm))
    throw new Error('bootstrap without an HTTP connection manager');
  return hcm;
}

/** Adds the attempt's (upstream stage's) dynamic metadata to the upstream_log lines: the harness compares it. */
function logUpstreamMetadata(bootstrap: JsonObject): void {
  const filters = connectionManager(bootstrap).http_filters;
  if (!Array.isArray(filters)) return;
  for (const filter of filters) {
    const format = path(
      filter as JsonObj,
      'typed_config',
      'upstream_log',
      0,
      'typed_config',
      'log_format',
      'json_format',
    );
    if (format !== undefined && format !== null && typeof format === 'object' && !Array.isArray(format)) {
      format.llm_extproc = `%DYNAMIC_METADATA(${METADATA_NAMESPACE})%`;
    }
  }
}

export async function startBench(options: BenchOptions): Promise<Bench> {
  const vias = options.vias ?? VIAS;
  const processor = await startFakeProcessor();
  const upstreams = new Map<string, FakeUpstream>();
  const handlers = new Map<string, UpstreamHandler>();
  const upstreamLog: UpstreamGot[] = [];
  const closers: Array<() => Promise<void>> = [async () => processor.close()];
  try {
    const backends: Record<string, unknown>[] = [];
    for (const [name, spec] of Object.entries(options.backends)) {
      let url = spec.url;
      if (url === undefined) {
        const upstream = await startFakeUpstream((req: RecordedRequest, res) => {
          upstreamLog.push({
            upstream: name,
            method: req.method,
            url: req.url,
            headers: flatHeaders(req.rawHeaders),
            body: req.body.toString('latin1'),
          });
          return (handlers.get(name) ?? jsonOk(name))(req, res);
        });
        upstreams.set(name, upstream);
        closers.push(() => upstream.close());
        url = upstream.url;
      }
      backends.push({
        name,
        provider: 'openai-compatible',
        baseUrl: url,
        priority: spec.priority ?? 0,
        ...(spec.disabled === true ? { apiKeyEnv: 'LLM_EXTPROC_PARITY_UNSET_KEY' } : {}),
      });
    }
    const config = serviceConfigSchema.parse({
      dataPlane: {
        bufferLimitBytes: 64 * 1024,
        numRetries: 2,
        retriableStatusCodes: [429, 500, 502, 503, 504],
        messageTimeoutMs: 2_000,
        routeTimeoutMs: 5_000,
        ...options.settings,
      },
      backends,
      routes: Object.entries(options.routes).map(([model, route]) => ({
        model,
        backends: route.backends.map((b) => ({ ...b })),
      })),
    });
    const topology: Topology = resolveTopology(config, {});
    const settings: DataPlaneSettings = {
      bufferLimitBytes: config.dataPlane.bufferLimitBytes,
      numRetries: config.dataPlane.numRetries,
      retriableStatusCodes: [...config.dataPlane.retriableStatusCodes],
      messageTimeoutMs: config.dataPlane.messageTimeoutMs,
      routeTimeoutMs: config.dataPlane.routeTimeoutMs,
    };

    const standInLog: AccessLogEntry[] = [];
    const standInEvents: DataPlaneEvent[] = [];
    let dataPlane: DataPlane | undefined;
    if (vias.includes('stand-in')) {
      dataPlane = await startDataPlane({
        host: '127.0.0.1',
        port: 0,
        extprocTarget: processor.target,
        topology: () => topology,
        settings: () => settings,
        accessLog: (entry) => standInLog.push(entry),
        log: (event) => standInEvents.push(event),
        // Deterministic endpoint choice and no back-off jitter surprises.
        random: () => 0,
      });
      const dp = dataPlane;
      closers.push(() => dp.close());
    }

    const envoyLines: Array<Readonly<Record<string, unknown>>> = [];
    const envoyStderr: string[] = [];
    let envoy: RunningEnvoy | undefined;
    let envoyBootstrap: JsonObject | undefined;
    if (vias.includes('envoy')) {
      const disabled = new Set(
        Object.entries(options.backends)
          .filter(([, b]) => b.disabled === true)
          .map(([name]) => name),
      );
      const bootstrap = buildBootstrap(config, {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        extproc: processor.target,
        disabledBackends: disabled,
      });
      logUpstreamMetadata(bootstrap);
      if (options.productLocalReplies !== true) delete connectionManager(bootstrap).local_reply_config;
      options.bootstrap?.(bootstrap);
      envoyBootstrap = bootstrap;
      const debug = process.env.PARITY_ENVOY_LOG;
      envoy = await startEnvoy({
        bootstrap: JSON.stringify(bootstrap),
        onAccessLog: (line) => envoyLines.push(line),
        onLog: (line) => {
          envoyStderr.push(line);
          if (envoyStderr.length > 400) envoyStderr.shift();
          if (debug !== undefined) process.stderr.write(`envoy: ${line}\n`);
        },
        ...(debug !== undefined ? { logLevel: 'debug' as const, componentLogLevel: debug } : {}),
      });
      const e = envoy;
      closers.push(() => e.stop());
    }

    const portOf = (via: Via): number => {
      if (via === 'stand-in') {
        if (dataPlane === undefined) throw new Error('stand-in not started in this bench');
        return dataPlane.port;
      }
      const port = envoy?.listenerPorts.get('llm_ingress');
      if (port === undefined) throw new Error('envoy not started in this bench');
      return port;
    };

    const nextLogged = async (via: Via, standInBefore: number, envoyBefore: number): Promise<Logged | undefined> => {
      const deadline = Date.now() + 3_000;
      for (;;) {
        if (via === 'stand-in') {
          const entry = standInLog[standInBefore];
          if (entry !== undefined) return fromStandInEntry(entry);
        } else {
          const lines = envoyLines.slice(envoyBefore);
          const request = lines.find((l) => l.log_type !== 'upstream_attempt');
          if (request !== undefined)
            return fromEnvoyLines({
              request,
              attempts: lines.filter((l) => l.log_type === 'upstream_attempt' && l.request_id === request.request_id),
            });
        }
        if (Date.now() > deadline) return undefined;
        await sleep(20);
      }
    };

    const run = async (via: Via, scenario: Scenario): Promise<Observation> => {
      processor.reset();
      upstreamLog.length = 0;
      handlers.clear();
      for (const [name, handler] of Object.entries(scenario.upstreams ?? {})) handlers.set(name, handler);
      processor.setScript(scenario.script);
      processor.setFinishOnHalfClose(scenario.finishOnHalfClose ?? true);
      const standInBefore = standInLog.length;
      const envoyBefore = envoyLines.length;
      const eventsBefore = standInEvents.length;
      const request = scenario.request ?? {};
      const routeHeader =
        scenario.routeHeader === undefined
          ? scenario.model !== undefined
            ? `llm.${scenario.model}`
            : null
          : scenario.routeHeader;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        ...(routeHeader !== null ? { [ROUTE_HEADER]: routeHeader } : {}),
        ...(request.headers ?? {}),
      };
      const body =
        request.chunkedBody === undefined
          ? (request.body ?? (request.method === 'GET' ? undefined : DEFAULT_BODY))
          : undefined;
      const client = await clientRequest(
        portOf(via),
        { ...request, headers, ...(body !== undefined ? { body } : {}) },
        () => upstreamLog.length > 0,
      );
      const clientDoneAt = Date.now();
      const log = await nextLogged(via, standInBefore, envoyBefore);
      const loggedAt = Date.now();
      const settleDeadline = Date.now() + (scenario.settleMs ?? 1_500);
      for (const s of processor.streams) {
        const left = settleDeadline - Date.now();
        if (left <= 0) break;
        await Promise.race([s.closed, sleep(left)]);
      }
      // A reset that follows a clean close is still worth seeing.
      await sleep(30);
      if (process.env.PARITY_TIMING !== undefined) {
        process.stderr.write(
          `parity ${via}: client ${client.ms} ms, log +${loggedAt - clientDoneAt} ms, settle +${Date.now() - loggedAt} ms, open: ${processor.streams
            .filter((x) => !x.isClosed)
            .map((x) => x.stage)
            .join(',')}\n`,
        );
      }
      const extproc: StreamSeen[] = processor.streams.map((s) => {
        const wire = processor.wire(s).filter((e) => e.what !== 'HEADERS');
        const clientFirst = wire.find((e) => e.from === 'client');
        const clientReset = wire.find((e) => e.from === 'client' && e.what.startsWith('RST_STREAM'));
        return {
          stage: s.stage,
          messages: s.received.map(messageSeen),
          wire: [...wire.map((e) => `${e.from} ${e.what}`), ...(s.isClosed ? [] : ['(open)'])],
          resetDelayMs:
            clientFirst !== undefined && clientReset !== undefined && clientFirst !== clientReset
              ? clientReset.at - clientFirst.at
              : undefined,
        };
      });
      const observation: Observation = {
        via,
        client,
        extproc,
        upstream: [...upstreamLog],
        log,
        scriptErrors: processor.scriptErrors.map((e) => (e instanceof Error ? e.message : String(e))),
        events: via === 'stand-in' ? standInEvents.slice(eventsBefore) : [],
      };
      processor.reset();
      return observation;
    };

    return {
      config,
      envoy,
      bootstrap: envoyBootstrap,
      run,
      both: async (scenario) => {
        const standIn = await run('stand-in', scenario);
        const real = await run('envoy', scenario);
        return { 'stand-in': standIn, envoy: real };
      },
      close: async () => {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

function flatHeaders(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation and comparison

// What legitimately differs between the stand-in and Envoy, and why: docs/dataplane.md, "Normalisations".
const DROPPED_REQUEST_HEADERS = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-envoy-external-address',
  'x-envoy-internal',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-attempt-count',
  'x-envoy-original-host',
  'connection',
  'keep-alive',
  'transfer-encoding',
]);
const DROPPED_RESPONSE_HEADERS = new Set([
  'date',
  'server',
  'x-envoy-upstream-service-time',
  'connection',
  'keep-alive',
  'transfer-encoding',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function normaliseHeaders(
  headers: Record<string, string> | undefined,
  kind: 'request' | 'response',
): Record<string, string> {
  const dropped = kind === 'request' ? DROPPED_REQUEST_HEADERS : DROPPED_RESPONSE_HEADERS;
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers ?? {}).sort()) {
    if (dropped.has(name)) continue;
    const value = headers?.[name] ?? '';
    out[name] = name === 'x-request-id' && UUID.test(value) ? '<generated>' : value;
  }
  return out;
}

export interface NormalisedStream {
  readonly stage: string;
  readonly messages: readonly {
    readonly kind: string;
    readonly endOfStream: boolean | undefined;
    readonly headers?: Record<string, string>;
    readonly body?: string;
    readonly attributes?: Record<string, JsonObject>;
  }[];
  readonly wire: readonly string[];
}

export interface Normalised {
  readonly client: {
    readonly status: number;
    readonly headers: Record<string, string>;
    readonly body: string;
    readonly reset: boolean;
  };
  readonly extproc: readonly NormalisedStream[];
  readonly upstream: readonly {
    readonly upstream: string;
    readonly method: string;
    readonly url: string;
    readonly headers: Record<string, string>;
    readonly body: string;
  }[];
  readonly log:
    { readonly responseCode: number; readonly details: string; readonly attempts: readonly string[] } | undefined;
}

/** A stream's closing frames with the two wire normalisations applied. */
export function normaliseWire(wire: readonly string[]): string[] {
  const out: string[] = [];
  for (const event of wire) {
    if (event === 'server END_STREAM') {
      out.push(event);
      break;
    }
    out.push(event.replace(/^client RST_STREAM\(.*\)$/, 'client RST_STREAM'));
  }
  return out;
}

export function normalise(o: Observation): Normalised {
  return {
    client: {
      status: o.client.status,
      headers: normaliseHeaders(o.client.headers, 'response'),
      body: o.client.body,
      reset: o.client.reset,
    },
    extproc: o.extproc.map((s) => ({
      stage: s.stage,
      messages: s.messages.map((m) => ({
        kind: m.kind,
        endOfStream: m.endOfStream,
        ...(m.headers !== undefined
          ? { headers: normaliseHeaders(m.headers, m.kind === 'request_headers' ? 'request' : 'response') }
          : {}),
        ...(m.body !== undefined ? { body: m.body } : {}),
        ...(m.attributes !== undefined ? { attributes: m.attributes } : {}),
      })),
      wire: normaliseWire(s.wire),
    })),
    upstream: o.upstream.map((u) => ({
      upstream: u.upstream,
      method: u.method,
      url: u.url,
      headers: normaliseHeaders(u.headers, 'request'),
      body: u.body,
    })),
    log:
      o.log === undefined
        ? undefined
        : {
            responseCode: o.log.responseCode,
            details: o.log.details,
            attempts: o.log.attempts.map((a) => `${a.backend}:${a.outcome}`),
          },
  };
}

/** Paths where two JSON-like values differ, "a.b[2].c: <left> ≠ <right>". */
export function differences(left: unknown, right: unknown, at = ''): string[] {
  if (Object.is(left, right)) return [];
  if (
    typeof left !== 'object' ||
    typeof right !== 'object' ||
    left === null ||
    right === null ||
    Array.isArray(left) !== Array.isArray(right)
  ) {
    return [`${at || '(root)'}: ${JSON.stringify(left)} ≠ ${JSON.stringify(right)}`];
  }
  const out: string[] = [];
  if (Array.isArray(left) && Array.isArray(right)) {
    for (let i = 0; i < Math.max(left.length, right.length); i++)
      out.push(...differences(left[i], right[i], `${at}[${i}]`));
    return out;
  }
  const l = left as Record<string, unknown>;
  const r = right as Record<string, unknown>;
  for (const key of new Set([...Object.keys(l), ...Object.keys(r)]))
    out.push(...differences(l[key], r[key], at ? `${at}.${key}` : key));
  return out;
}

/** The upstream-stage attribute value for the chosen backend of each upstream stream. */
export function backendAttributes(o: Observation, attribute: string): Array<string | undefined> {
  return o.extproc
    .filter((s) => s.stage === 'upstream')
    .map((s) => {
      const value = s.messages[0]?.attributes?.[EXT_PROC_FILTER_NAME]?.[attribute];
      return typeof value === 'string' ? value : undefined;
    });
}
