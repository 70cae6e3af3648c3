// Admin HTTP: liveness, readiness and Prometheus metrics, on a port separate from traffic.
import http from 'node:http';
import { registry } from '../telemetry/metrics.js';
import { errorMessage, log } from '../telemetry/log.js';

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  /** Readiness: every listener bound and the config loaded. Returns the reasons it is not ready. */
  readonly notReadyReasons: () => string[];
  /** GET /budgets: each budget's limit, used, reserved, remaining and window. */
  readonly budgets?: () => Promise<unknown>;
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
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(res, 200, 'text/plain', 'ok\n');
      case '/readyz': {
        const reasons = options.notReadyReasons();
        return reasons.length === 0 ? send(res, 200, 'text/plain', 'ready\n') : send(res, 503, 'text/plain', reasons.join('\n') + '\n');
      }
      case '/metrics':
        registry.metrics().then(
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
      default:
        return send(res, 404, 'text/plain', 'not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
