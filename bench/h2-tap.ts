// A transparent TCP proxy that reads the HTTP/2 frame headers flowing through it (h2c with prior knowledge, as
// between Envoy and its `llm-extproc` cluster) and records, per stream, the order in which each side closed it:
// END_STREAM (a half-close), RST_STREAM (with its error code) — and every GOAWAY and PING on the connection. It does
// not decode HPACK or payloads, so it costs little, and it needs no tcpdump or capture privileges (the proxy itself
// is src/dataplane/testing/h2-frame-proxy.ts, shared with the parity harness's tap).
//
// With `countMessages` it also counts the gRPC messages each side sent on each stream (the 5-byte length prefixes
// inside DATA frames): test/e2e/messages.test.ts counts ext_proc messages per request with it.
//
// Used by bench/soak.ts (--tap) to answer "how does Envoy close an ext_proc stream?" from the wire itself:
//   envoy → tap → llm-extproc
import {
  END_STREAM,
  errorCodeName,
  FRAME,
  FRAME_TYPES,
  startFrameProxy,
  type Frame,
} from '../src/dataplane/testing/h2-frame-proxy.js';

/** The side that sent a frame: Envoy (the gRPC client) or the service (the gRPC server). */
export type Side = 'envoy' | 'service';

const ACK = 0x1;
const PADDED = 0x8;

export interface GoawayRecord {
  readonly from: Side;
  readonly connection: number;
  readonly lastStreamId: number;
  readonly errorCode: string;
  readonly debug: string;
  /** Streams the connection had carried when the GOAWAY was seen. */
  readonly afterStreams: number;
}

export interface TapReport {
  readonly connections: number;
  readonly streams: number;
  /** Frames by `side type`, e.g. `envoy RST_STREAM`. */
  readonly frames: Record<string, number>;
  /** RST_STREAM frames by `side code`, e.g. `envoy CANCEL`. */
  readonly resets: Record<string, number>;
  readonly goaways: readonly GoawayRecord[];
  /** PINGs (not ACKs) by side. */
  readonly pings: Record<string, number>;
  /**
   * How each stream ended, as the order of its closing frames: `envoy END_STREAM`, `service END_STREAM` (the gRPC
   * status trailers), `envoy RST(CANCEL)`, …, joined by ` → `; streams still open at report time end with `(open)`.
   */
  readonly closePatterns: Record<string, number>;
  /**
   * The same, per group of connections that closed their streams the same ways: Envoy's gRPC health checker has a
   * connection of its own (one Health/Check call per interval), so its streams show up as a separate group.
   */
  readonly connectionGroups: ReadonlyArray<{
    readonly connections: number;
    readonly closePatterns: Record<string, number>;
  }>;
  /** For streams Envoy reset: how long after the stream's last other closing event (ms), percentiles. */
  readonly resetDelayMs: { readonly count: number; readonly p50: number; readonly p99: number; readonly max: number };
}

/** One ext_proc stream: how many gRPC messages each side sent on it. */
export interface StreamMessages {
  readonly connection: number;
  readonly streamId: number;
  readonly envoy: number;
  readonly service: number;
}

/** Counts gRPC messages in one direction of one stream, across DATA frames (a prefix may be split between frames). */
class GrpcCounter {
  messages = 0;
  #left = 0;
  #prefix: number[] = [];

  push(data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      if (this.#left > 0) {
        const take = Math.min(this.#left, data.length - offset);
        this.#left -= take;
        offset += take;
        continue;
      }
      this.#prefix.push(data[offset++] as number);
      if (this.#prefix.length === 5) {
        this.messages++;
        this.#left = Buffer.from(this.#prefix).readUInt32BE(1);
        this.#prefix = [];
      }
    }
  }
}

interface StreamState {
  /** Closing events in order. */
  readonly events: string[];
  readonly counters: Record<Side, GrpcCounter>;
  lastEventAt: number;
  envoyClosed: boolean;
  serviceClosed: boolean;
}

export interface H2Tap {
  readonly port: number;
  report(): TapReport;
  /** Messages per stream, in the order the streams opened (kept only with `countMessages`). */
  streamMessages(): readonly StreamMessages[];
  close(): Promise<void>;
}

function inc(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** Starts the tap on a loopback port; every connection is proxied to `target` (host:port). */
export async function startH2Tap(
  target: { readonly host: string; readonly port: number },
  options: { readonly countMessages?: boolean } = {},
): Promise<H2Tap> {
  const countMessages = options.countMessages === true;
  const opened: Array<{
    readonly connection: number;
    readonly streamId: number;
    readonly counters: Record<Side, GrpcCounter>;
  }> = [];
  const frames: Record<string, number> = {};
  const resets: Record<string, number> = {};
  const pings: Record<string, number> = {};
  const goaways: GoawayRecord[] = [];
  const closePatterns: Record<string, number> = {};
  const resetDelays: number[] = [];
  const live = new Map<Map<number, StreamState>, Record<string, number>>();
  const closedConnections: Array<Record<string, number>> = [];
  let connections = 0;
  let streams = 0;

  const finish = (perConnection: Record<string, number>, state: StreamState, suffix: string) => {
    inc(closePatterns, state.events.join(' → ') + suffix);
    inc(perConnection, state.events.join(' → ') + suffix);
  };

  const proxy = await startFrameProxy(
    target,
    () => {
      const connection = ++connections;
      const byStream = new Map<number, StreamState>();
      const connectionPatterns: Record<string, number> = {};
      live.set(byStream, connectionPatterns);
      let streamsOnConnection = 0;

      const onFrame = (from: Side, { type, flags, streamId, payload }: Frame) => {
        const typeName = FRAME_TYPES[type] ?? `type${type}`;
        inc(frames, `${from} ${typeName}`);
        if (type === FRAME.GOAWAY) {
          const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
          goaways.push({
            from,
            connection,
            lastStreamId,
            errorCode: errorCodeName(payload.readUInt32BE(4)),
            debug: payload.subarray(8).toString('utf8').slice(0, 200),
            afterStreams: streamsOnConnection,
          });
          return;
        }
        if (type === FRAME.PING) {
          if (!(flags & ACK)) inc(pings, from);
          return;
        }
        if (streamId === 0) return;
        const resetCode = type === FRAME.RST_STREAM ? errorCodeName(payload.readUInt32BE(0)) : undefined;
        if (resetCode) inc(resets, `${from} ${resetCode}`);
        let state = byStream.get(streamId);
        if (!state) {
          // A late frame for a stream already reported (e.g. WINDOW_UPDATE); a late reset is worth knowing.
          if (resetCode) {
            inc(closePatterns, `(closed > 1 s earlier) → ${from} RST(${resetCode})`);
            inc(connectionPatterns, `(closed > 1 s earlier) → ${from} RST(${resetCode})`);
          }
          if (type !== FRAME.HEADERS) return;
          state = {
            events: [],
            counters: { envoy: new GrpcCounter(), service: new GrpcCounter() },
            lastEventAt: Date.now(),
            envoyClosed: false,
            serviceClosed: false,
          };
          byStream.set(streamId, state);
          if (countMessages) opened.push({ connection, streamId, counters: state.counters });
          streams++;
          streamsOnConnection++;
        }
        if (type === FRAME.DATA && countMessages) {
          const padding = flags & PADDED ? (payload[0] ?? 0) : 0;
          state.counters[from].push(payload.subarray(flags & PADDED ? 1 : 0, payload.length - padding));
        }
        const now = Date.now();
        if ((type === FRAME.DATA || type === FRAME.HEADERS) && flags & END_STREAM) {
          state.events.push(`${from} END_STREAM`);
          state.lastEventAt = now;
          if (from === 'envoy') state.envoyClosed = true;
          else state.serviceClosed = true;
        } else if (resetCode) {
          if (from === 'envoy') resetDelays.push(now - state.lastEventAt);
          state.events.push(`${from} RST(${resetCode})`);
          state.lastEventAt = now;
          state.envoyClosed = true;
          state.serviceClosed = true;
        }
        // A stream closed by both sides stays for a moment: a RST_STREAM may still follow a clean close.
        if (state.envoyClosed && state.serviceClosed) {
          const closed = state;
          setTimeout(() => {
            if (byStream.get(streamId) !== closed) return;
            byStream.delete(streamId);
            finish(connectionPatterns, closed, '');
          }, 1000).unref();
        }
      };

      return {
        // The shared proxy says client/server; here they are Envoy and the service.
        onFrame: (from, frame) => onFrame(from === 'client' ? 'envoy' : 'service', frame),
        onClose: () => {
          // Streams the connection still carried (e.g. refused after a GOAWAY) end with it.
          for (const state of byStream.values()) {
            finish(
              connectionPatterns,
              state,
              state.envoyClosed && state.serviceClosed
                ? ''
                : `${state.events.length ? ' → ' : ''}(connection closed, stream open)`,
            );
          }
          byStream.clear();
          live.delete(byStream);
          closedConnections.push(connectionPatterns);
        },
      };
    },
    { dataPayloads: countMessages },
  );

  const report = (): TapReport => {
    const patterns = { ...closePatterns };
    const perConnection = [...closedConnections];
    for (const [byStream, connectionPatterns] of live) {
      const current = { ...connectionPatterns };
      for (const state of byStream.values()) {
        const key =
          state.events.join(' → ') +
          (state.envoyClosed && state.serviceClosed ? '' : `${state.events.length ? ' → ' : ''}(open)`);
        inc(patterns, key);
        inc(current, key);
      }
      perConnection.push(current);
    }
    const groups = new Map<string, { connections: number; closePatterns: Record<string, number> }>();
    for (const connection of perConnection) {
      const signature = Object.keys(connection).sort().join('|');
      const group = groups.get(signature) ?? { connections: 0, closePatterns: {} };
      group.connections++;
      for (const [key, n] of Object.entries(connection)) inc(group.closePatterns, key, n);
      groups.set(signature, group);
    }
    const sorted = [...resetDelays].sort((a, b) => a - b);
    const at = (p: number) =>
      sorted.length
        ? (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number)
        : Number.NaN;
    return {
      connections,
      streams,
      frames: { ...frames },
      resets: { ...resets },
      goaways: [...goaways],
      pings: { ...pings },
      closePatterns: patterns,
      connectionGroups: [...groups.values()].sort((a, b) => b.connections - a.connections),
      resetDelayMs: { count: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? Number.NaN },
    };
  };

  return {
    port: proxy.port,
    report,
    streamMessages: () =>
      opened.map((o) => ({
        connection: o.connection,
        streamId: o.streamId,
        envoy: o.counters.envoy.messages,
        service: o.counters.service.messages,
      })),
    close: () => proxy.close(),
  };
}
