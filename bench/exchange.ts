// Client side of one exchange: the ext_proc messages Envoy sends for one client request, over the two Process
// streams the two filter instances open (router level, then upstream level after the route was picked).
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { BACKEND_ATTRIBUTE, EXT_PROC_FILTER_NAME, STAGE_METADATA_KEY, type Stage } from '../src/extproc/contract.js';
import type { ExternalProcessorClient } from '../src/generated/envoy/service/ext_proc/v3/ExternalProcessor.js';
import type { HeaderValue } from '../src/generated/envoy/config/core/v3/HeaderValue.js';
import type { ProcessingRequest } from '../src/generated/envoy/service/ext_proc/v3/ProcessingRequest.js';
import type { ProcessingResponse__Output } from '../src/generated/envoy/service/ext_proc/v3/ProcessingResponse.js';
import { loadServiceProtos } from '../src/protos/load.js';
import {
  BACKEND,
  REQUEST_BODY_JSON,
  chatRequestOfSize,
  REQUEST_BODY_SSE,
  withTurn,
  RESPONSE_BODY_JSON,
  SSE_RESPONSE_CHUNKS,
  routerRequestHeaders,
  routerResponseHeaders,
  upstreamRequestHeaders,
  upstreamResponseHeaders,
  type HeaderList,
} from './fixtures.js';

type Phase = NonNullable<ProcessingRequest['request']>;

export function createClient(port: number): ExternalProcessorClient {
  const Client = loadServiceProtos().envoy.service.ext_proc.v3.ExternalProcessor;
  return new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
}

/** One Process stream driven request → response, in order (ext_proc answers every message exactly once, in order). */
class ProcessStream {
  readonly #call: grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse__Output>;
  readonly #waiting: Array<{
    phase: Phase;
    resolve: (r: ProcessingResponse__Output) => void;
    reject: (e: Error) => void;
  }> = [];
  #failure: Error | undefined;
  readonly done: Promise<void>;

  constructor(client: ExternalProcessorClient, stage: Stage) {
    const metadata = new grpc.Metadata();
    metadata.set(STAGE_METADATA_KEY, stage);
    this.#call = client.Process(metadata);
    this.#call.on('data', (response: ProcessingResponse__Output) => {
      const waiter = this.#waiting.shift();
      if (!waiter) return this.#fail(new Error(`${stage} stream: unsolicited response '${String(response.response)}'`));
      if (response.response !== waiter.phase) {
        const detail = response.immediate_response
          ? ` (immediate_response ${JSON.stringify(response.immediate_response.status)}: ${response.immediate_response.body?.toString('utf8')})`
          : '';
        const err = new Error(
          `${stage} stream: expected a '${waiter.phase}' response, got '${String(response.response)}'${detail}`,
        );
        waiter.reject(err);
        return this.#fail(err);
      }
      waiter.resolve(response);
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.#call.on('status', (status: grpc.StatusObject) => {
        if (status.code === grpc.status.OK) resolve();
        else reject(new Error(`${stage} stream ended with ${grpc.status[status.code]}: ${status.details}`));
      });
      this.#call.on('error', (err: Error) => {
        this.#fail(err);
        reject(err);
      });
    });
    this.done.catch(() => undefined); // observed by the exchange; never an unhandled rejection
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(err);
    this.#call.cancel();
  }

  send(phase: Phase, request: ProcessingRequest): Promise<ProcessingResponse__Output> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ phase, resolve, reject });
      this.#call.write(request);
    });
  }

  #ended = false;

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#call.end();
  }

  cancel(): void {
    this.#ended = true;
    this.#call.cancel();
  }
}

function headerValues(list: HeaderList): HeaderValue[] {
  return list.map(([key, value]) => ({ key, raw_value: Buffer.from(value) }));
}

/** Everything constant about a scenario's messages, built once so the load generator stays lean. */
interface Script {
  readonly stream: boolean;
  readonly requestBody: Buffer;
  readonly upstreamExtraHeaders: HeaderValue[];
  readonly upstreamResponseHeaders: HeaderValue[];
  readonly routerResponseHeaders: HeaderValue[];
}

const scripts = new Map<string, Script>();

function scriptFor(stream: boolean, promptBytes: number | undefined): Script {
  const key = `${stream}:${promptBytes ?? ''}`;
  let script = scripts.get(key);
  if (!script) {
    const requestBody =
      promptBytes !== undefined
        ? chatRequestOfSize(stream, promptBytes)
        : stream
          ? REQUEST_BODY_SSE
          : REQUEST_BODY_JSON;
    const routerCount = routerRequestHeaders('x', requestBody, stream).length;
    script = {
      stream,
      requestBody,
      upstreamExtraHeaders: headerValues(upstreamRequestHeaders('x', requestBody, stream).slice(routerCount)),
      upstreamResponseHeaders: headerValues(upstreamResponseHeaders(stream)),
      routerResponseHeaders: headerValues(routerResponseHeaders(stream)),
    };
    scripts.set(key, script);
  }
  return script;
}

const UPSTREAM_ATTRIBUTES: ProcessingRequest['attributes'] = {
  [EXT_PROC_FILTER_NAME]: { fields: { [BACKEND_ATTRIBUTE]: { stringValue: BACKEND } } },
};

export interface ExchangeRecord {
  readonly latencyMs: number;
  readonly messages: number;
  readonly router: ProcessingResponse__Output[];
  readonly upstream: ProcessingResponse__Output[];
}

/**
 * One client request as Envoy processes it:
 * router stream   request_headers → request_body(eos) ─┐
 * upstream stream                                       request_headers(+attributes) → request_body(eos) → response_headers
 * router stream   response_headers → response_body(eos), or in the SSE case 202 response_body messages, one per
 *                 upstream chunk, each sent once the previous one was answered (tokens arrive slower than a round trip).
 * Latency: from opening the router stream to the last response. Resolves once both streams closed with OK.
 */
export async function runExchange(
  client: ExternalProcessorClient,
  stream: boolean,
  seq: number,
  promptBytes?: number,
): Promise<ExchangeRecord> {
  const script = scriptFor(stream, promptBytes);
  const requestId = `bench-${process.pid}-${seq}`;
  const requestBody = withTurn(script.requestBody, seq);
  const requestHeaders = headerValues(routerRequestHeaders(requestId, requestBody, stream));
  const routerResponses: ProcessingResponse__Output[] = [];
  const upstreamResponses: ProcessingResponse__Output[] = [];
  let messages = 0;

  const started = performance.now();
  const router = new ProcessStream(client, 'router');
  let upstream: ProcessStream | undefined;
  const send = async (
    s: ProcessStream,
    into: ProcessingResponse__Output[],
    phase: Phase,
    request: ProcessingRequest,
  ) => {
    messages++;
    into.push(await s.send(phase, request));
  };
  try {
    await send(router, routerResponses, 'request_headers', {
      request_headers: { headers: { headers: requestHeaders }, end_of_stream: false },
    });
    await send(router, routerResponses, 'request_body', { request_body: { body: requestBody, end_of_stream: true } });

    upstream = new ProcessStream(client, 'upstream');
    await send(upstream, upstreamResponses, 'request_headers', {
      request_headers: {
        headers: { headers: [...requestHeaders, ...script.upstreamExtraHeaders] },
        end_of_stream: false,
      },
      attributes: UPSTREAM_ATTRIBUTES,
    });
    await send(upstream, upstreamResponses, 'request_body', {
      request_body: { body: requestBody, end_of_stream: true },
    });
    await send(upstream, upstreamResponses, 'response_headers', {
      response_headers: { headers: { headers: script.upstreamResponseHeaders }, end_of_stream: false },
    });
    upstream.end(); // the upstream filter skips the response body: its stream is done

    await send(router, routerResponses, 'response_headers', {
      response_headers: { headers: { headers: script.routerResponseHeaders }, end_of_stream: false },
    });
    if (!stream) {
      await send(router, routerResponses, 'response_body', {
        response_body: { body: RESPONSE_BODY_JSON, end_of_stream: true },
      });
    } else {
      const last = SSE_RESPONSE_CHUNKS.length - 1;
      for (let i = 0; i <= last; i++) {
        await send(router, routerResponses, 'response_body', {
          response_body: { body: SSE_RESPONSE_CHUNKS[i], end_of_stream: i === last },
        });
      }
    }
    const latencyMs = performance.now() - started;
    router.end();
    await Promise.all([router.done, upstream.done]);
    return { latencyMs, messages, router: routerResponses, upstream: upstreamResponses };
  } catch (err) {
    router.cancel();
    upstream?.cancel();
    throw err;
  }
}

/** Runs `count` exchanges with at most `concurrency` in flight; returns their latencies (ms) and message count. */
export async function runMany(
  client: ExternalProcessorClient,
  stream: boolean,
  count: number,
  concurrency: number,
  firstSeq: number,
  promptBytes?: number,
): Promise<{ latenciesMs: number[]; messages: number }> {
  const latenciesMs: number[] = [];
  let messages = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const seq = firstSeq + next++;
      const record = await runExchange(client, stream, seq, promptBytes);
      latenciesMs.push(record.latencyMs);
      messages += record.messages;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { latenciesMs, messages };
}
