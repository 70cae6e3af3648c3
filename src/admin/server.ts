// Admin HTTP: liveness, readiness and Prometheus metrics, on a port separate from traffic. /healthz, /readyz and
// /metrics are always open (probes, scrapers); every other path (/budgets: tenant names; operator actions) needs a
// bearer token or an allowed client certificate when either is configured (config.admin.tokenEnv / admin.tls).
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { checkClient, loadTlsMaterial, tokenMatches, watchTlsFiles, type TlsOptions } from '../security/tls.js';
import type { Secret } from '../util/secret.js';
import { registry } from '../telemetry/metrics.js';
import { errorMessage, log } from '../telemetry/log.js';

export interface AdminOptions {
  /** The Prometheus text for /metrics; default this process's registry (with ext_proc workers: all of them, aggregated). */
  readonly metrics?: () => Promise<string>;
  readonly host: string;
  readonly port: number;
  /** Readiness: every listener bound and the config loaded. Returns the reasons it is not ready. */
  readonly notReadyReasons: () => string[];
  /** GET /budgets: each budget's limit, used, reserved, remaining and window. */
  readonly budgets?: () => Promise<unknown>;
  /** GET /backends: every backend with its provider and whether it is enabled (and why not); never secrets. */
  readonly backends?: () => unknown;
  /** GET /health/backends: semantic health score, state and last verdicts per backend; never secrets. */
  readonly healthBackends?: () => unknown;
  /**
   * Operator actions (POST /backends/<name>/pin | drain | restore), body already validated. Returns the backend's
   * new view, or undefined when no backend has that name.
   */
  readonly operateBackend?: (backend: string, action: BackendAction) => unknown | Promise<unknown>;
  /** Bearer token protected paths accept. */
  readonly token?: Secret;
  /** HTTPS; a verified client certificate naming one of allowedClients also authorises protected paths. */
  readonly tls?: TlsOptions;
}

const PIN_STATES = ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'DRAINING'] as const;
const reason = z.string().max(200).optional();

/** POST /backends/<name>/pin: the state (and weight) published instead of the verdicts until restored. */
const pinBody = z.strictObject({
  state: z.enum(PIN_STATES),
  weight: z.number().int().min(1).max(1_000_000).optional(),
  reason,
});
const drainBody = z.strictObject({ reason });

export type BackendAction =
  | {
      readonly kind: 'pin';
      readonly state: (typeof PIN_STATES)[number];
      readonly weight: number | undefined;
      readonly reason: string | undefined;
    }
  | { readonly kind: 'restore' };

/** Operator bodies are tiny; anything larger is refused. */
const MAX_ACTION_BODY = 4096;

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read and dropped, so the client still gets its 413.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_ACTION_BODY) parts.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_ACTION_BODY ? undefined : Buffer.concat(parts).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

/** Parses an operator action's body (empty = {}); an error message when it is not acceptable. */
function parseAction(action: string, text: string): BackendAction | string {
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      return 'body is not JSON';
    }
  }
  if (action === 'restore') return { kind: 'restore' };
  if (action === 'drain') {
    const parsed = drainBody.safeParse(json);
    return parsed.success
      ? { kind: 'pin', state: 'DRAINING', weight: undefined, reason: parsed.data.reason }
      : parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  }
  const parsed = pinBody.safeParse(json);
  return parsed.success
    ? { kind: 'pin', state: parsed.data.state, weight: parsed.data.weight, reason: parsed.data.reason }
    : parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

const ACTION_PATH = /^\/backends\/([^/]+)\/(pin|drain|restore)$/;

/** Paths anyone who reaches the port may read: probes and scrapers carry no credentials. */
const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

type Authorization = { ok: true } | { ok: false; status: 401 | 403; reason: string };

function authorize(req: http.IncomingMessage, options: AdminOptions): Authorization {
  if (!options.token && !options.tls) return { ok: true };
  const header = req.headers.authorization;
  const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (options.token && bearer !== undefined && tokenMatches(bearer, options.token.reveal())) return { ok: true };
  if (options.tls) {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const check = checkClient(socket.getPeerCertificate(), options.tls.allowedClients);
      if (check.ok) return { ok: true };
      return { ok: false, status: 403, reason: check.reason };
    }
  }
  return { ok: false, status: 401, reason: bearer === undefined ? 'credentials required' : 'invalid token' };
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startAdminServer(options: AdminOptions): Promise<AdminServer> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!OPEN_PATHS.has(path)) {
      const auth = authorize(req, options);
      if (!auth.ok) {
        log.warn('admin request refused', { path, reason: auth.reason });
        if (auth.status === 401) res.setHeader('www-authenticate', 'Bearer');
        return send(res, auth.status, 'text/plain', auth.status === 401 ? 'unauthorized\n' : 'forbidden\n');
      }
    }
    const action = ACTION_PATH.exec(path);
    if (action) {
      if (!options.operateBackend) return send(res, 404, 'text/plain', 'not found\n');
      if (req.method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed\n');
      const operate = options.operateBackend;
      let name: string;
      try {
        name = decodeURIComponent(action[1] ?? '');
      } catch {
        return send(res, 400, 'text/plain', 'bad backend name\n');
      }
      void readBody(req).then(async (text) => {
        if (text === undefined) return send(res, 413, 'text/plain', 'body too large\n');
        const parsed = parseAction(action[2] ?? '', text);
        if (typeof parsed === 'string')
          return send(res, 400, 'application/json', JSON.stringify({ error: parsed }) + '\n');
        let view: unknown;
        try {
          view = await operate(name, parsed);
        } catch (err) {
          log.error('operator action failed', { backend: name, error: errorMessage(err) });
          return send(res, 500, 'text/plain', 'operator action failed\n');
        }
        if (view === undefined)
          return send(
            res,
            404,
            'application/json',
            JSON.stringify({ error: `no backend named ${JSON.stringify(name.slice(0, 100))}` }) + '\n',
          );
        log.info('operator action on backend', {
          backend: name,
          action: action[2],
          state: parsed.kind === 'pin' ? parsed.state : 'verdicts',
          weight: parsed.kind === 'pin' ? parsed.weight : undefined,
        });
        send(res, 200, 'application/json', JSON.stringify(view, null, 2) + '\n');
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const reasons = options.notReadyReasons();
        return reasons.length === 0
          ? send(res, 200, 'text/plain', 'ready\n')
          : send(res, 503, 'text/plain', reasons.join('\n') + '\n');
      }
      case '/metrics':
        (options.metrics ?? (() => registry.metrics()))().then(
          (text) => send(res, 200, registry.contentType, text),
          (err: unknown) => {
            log.error('metrics collection failed', { error: errorMessage(err) });
            send(res, 500, 'text/plain', 'metrics unavailable\n');
          },
        );
        return;
      case '/budgets':
        if (!options.budgets) return send(res, 404, 'text/plain', 'not found\n');
        options.budgets().then(
          (view) => send(res, 200, 'application/json', JSON.stringify(view, null, 2) + '\n'),
          (err: unknown) => {
            log.error('budget snapshot failed', { error: errorMessage(err) });
            send(res, 503, 'text/plain', 'budget store unavailable\n');
          },
        );
        return;
      case '/backends':
        if (!options.backends) return send(res, 404, 'text/plain', 'not found\n');
        return send(res, 200, 'application/json', JSON.stringify(options.backends(), null, 2) + '\n');
      case '/health/backends':
        if (!options.healthBackends) return send(res, 404, 'text/plain', 'not found\n');
        return send(res, 200, 'application/json', JSON.stringify(options.healthBackends(), null, 2) + '\n');
      default:
        return send(res, 404, 'text/plain', 'not found\n');
    }
  };
  let stopWatching: (() => void) | undefined;
  let server: http.Server;
  if (options.tls) {
    const material = loadTlsMaterial(options.tls);
    // Client certificates are asked for, not required: probes and scrapers reach the open paths without one.
    const secure = https.createServer({ ...material, requestCert: true, rejectUnauthorized: false }, handler);
    stopWatching = watchTlsFiles(
      options.tls,
      (next) => secure.setSecureContext({ ...next }),
      (err) => log.warn('admin TLS files unusable; keeping the previous ones', { error: errorMessage(err) }),
    );
    server = secure;
  } else {
    server = http.createServer(handler);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        stopWatching?.();
        server.close(() => resolve());
      }),
  };
}
