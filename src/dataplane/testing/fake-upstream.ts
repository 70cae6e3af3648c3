// Test helper: a provider stand-in on 127.0.0.1 (port 0) that records every request it gets.
import * as http from 'node:http';
import { listenOnLoopback } from '../../testing/http.js';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (request: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface FakeUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Answers 200 with a small JSON body naming the upstream. */
export function jsonOk(name: string): UpstreamHandler {
  return (_req, res) => {
    const body = JSON.stringify({ served_by: name });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

export function status(code: number, body = ''): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(code, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

export async function startFakeUpstream(handler: UpstreamHandler, basePath = ''): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      Promise.resolve(handler(recorded, res)).catch(() => res.destroy());
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}${basePath}`,
    requests,
    close,
  };
}

/**
 * A URL on 127.0.0.1 where nothing listens (connect failure). Port 1 is outside the ephemeral range, so no
 * server started with port 0 (here or in a test running in parallel) can take it, unlike a freed random port.
 */
export function deadUrl(): string {
  return 'http://127.0.0.1:1';
}
