// Load-generator child of the peers bench: HTTP/1.1 keep-alive clients, `concurrency` requests in flight, each
// timed from the first byte written to the last byte of the response (the whole SSE stream for streams). Every
// response is checked (status 200 and the format's closing marker), so a broken path is never reported as fast.
// Usage (by bench/peers.ts only): node dist/bench/peers/load.js
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { checkResponse } from './check.js';
import type { FromLoad, LoadJob, ProbeResult, ToLoad } from './ipc.js';

const REQUEST_TIMEOUT_MS = 30_000;

function send(message: FromLoad): void {
  if (!process.send) throw new Error('bench/peers/load.js must be started by bench/peers.js (no IPC channel)');
  process.send(message);
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function request(
  agent: http.Agent,
  url: URL,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => {
          const flat: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 0, headers: flat, body: Buffer.concat(parts).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`no complete response within ${REQUEST_TIMEOUT_MS} ms`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Phase {
  latenciesMs: number[];
  requests: number;
  errors: number;
  firstError: string | undefined;
  wallMs: number;
}

/** `concurrency` loops, each sending its next request when the previous one has ended, while `more()`. */
async function runPhase(
  job: LoadJob,
  agent: http.Agent,
  durationMs: number,
  maxRequests: number,
  minRequests: number,
): Promise<Phase> {
  const url = new URL(job.url);
  const body = Buffer.from(job.body);
  const phase: Phase = { latenciesMs: [], requests: 0, errors: 0, firstError: undefined, wallMs: 0 };
  const started = performance.now();
  const deadline = started + durationMs;
  const hardDeadline = started + 3 * durationMs;
  const more = () => {
    const now = performance.now();
    return phase.requests < maxRequests && (now < deadline || (phase.requests < minRequests && now < hardDeadline));
  };
  const worker = async () => {
    while (more()) {
      phase.requests++;
      const t0 = performance.now();
      try {
        const answer = await request(agent, url, job.headers, body);
        const ms = performance.now() - t0;
        const problem = checkResponse(job.expect, job.stream, answer.status, answer.body);
        if (problem === undefined) phase.latenciesMs.push(ms);
        else {
          phase.errors++;
          phase.firstError ??= problem;
        }
      } catch (err) {
        phase.errors++;
        phase.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  phase.wallMs = performance.now() - started;
  return phase;
}

let go: (() => void) | undefined;

async function runJob(job: LoadJob): Promise<void> {
  // A fresh pool per job: no connection left idle (and closed by the server) from an earlier job is reused.
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency });
  try {
    const goSignal = new Promise<void>((resolve) => (go = resolve));
    const warm = await runPhase(job, agent, job.warmupMs, Number.MAX_SAFE_INTEGER, 0);
    send({ type: 'warm', errors: warm.errors, firstError: warm.firstError });
    await goSignal;
    const phase = await runPhase(job, agent, job.durationMs, job.maxRequests, job.minRequests);
    phase.latenciesMs.sort((a, b) => a - b);
    send({
      type: 'done',
      result: {
        requests: phase.requests,
        errors: phase.errors,
        firstError: phase.firstError,
        wallMs: phase.wallMs,
        latenciesMs: phase.latenciesMs,
      },
    });
  } finally {
    agent.destroy();
  }
}

async function probe(url: string, headers: Readonly<Record<string, string>>, body: string): Promise<ProbeResult> {
  const agent = new http.Agent({ keepAlive: false });
  const t0 = performance.now();
  try {
    const answer = await request(agent, new URL(url), headers, Buffer.from(body));
    return { ...answer, ms: performance.now() - t0 };
  } finally {
    agent.destroy();
  }
}

const fail = (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) });

process.on('message', (message: ToLoad) => {
  switch (message.type) {
    case 'job':
      runJob(message.job).catch(fail);
      return;
    case 'go':
      go?.();
      return;
    case 'probe':
      probe(message.url, message.headers, message.body).then((result) => send({ type: 'probed', result }), fail);
      return;
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
