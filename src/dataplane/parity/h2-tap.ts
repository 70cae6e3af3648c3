// Parity harness: a transparent TCP proxy in front of the fake ext_proc server that reads the HTTP/2 frame headers
// going through it (h2c with prior knowledge, as the stand-in's grpc-js client and Envoy's `llm-extproc` cluster
// speak it) and records, per stream, the frames that open and close it: the client's END_STREAM (a half-close), an
// RST_STREAM from either side with its error code, the server's END_STREAM (the gRPC status trailers). This is
// what "how did the data plane end the Process stream?" is answered from: the wire, not a library's reading of it.
// HPACK and payloads are not decoded. Loopback only.
import {
  END_STREAM,
  errorCodeName,
  FRAME,
  startFrameProxy,
  type Frame,
  type FrameSide,
} from '../testing/h2-frame-proxy.js';

/** One opening or closing frame of a stream. */
export interface WireEvent {
  readonly at: number;
  readonly from: FrameSide;
  /** `HEADERS` (the first one from each side), `END_STREAM`, `RST_STREAM(<code>)`, `GOAWAY(<code>)`. */
  readonly what: string;
}

export interface H2Tap {
  /** Port to point a gRPC client at. */
  readonly port: number;
  /**
   * Events of one stream, keyed by the port the tap's connection to the server has locally (what the server sees as
   * the peer port) and the stream id.
   */
  events(serverSidePeerPort: number, streamId: number): readonly WireEvent[];
  close(): Promise<void>;
}

interface StreamRecord {
  readonly events: WireEvent[];
  readonly headersSeen: Set<FrameSide>;
}

export async function startH2Tap(target: { readonly host: string; readonly port: number }): Promise<H2Tap> {
  const byKey = new Map<string, StreamRecord>();
  const proxy = await startFrameProxy(target, (serverSide) => {
    // Streams are keyed by the port the server sees as the peer's: known once the server side is connected.
    let localPort = 0;
    const early: Array<() => void> = [];
    serverSide.on('connect', () => {
      localPort = serverSide.localPort ?? 0;
      for (const f of early.splice(0)) f();
    });

    const record = (from: FrameSide, { type, flags, streamId, payload }: Frame): void => {
      const at = Date.now();
      if (type === FRAME.GOAWAY) {
        const code = payload.length >= 8 ? errorCodeName(payload.readUInt32BE(4)) : '?';
        const event: WireEvent = { at, from, what: `GOAWAY(${code})` };
        // A GOAWAY concerns every open stream of the connection.
        for (const [key, rec] of byKey) if (key.startsWith(`${localPort}/`)) rec.events.push(event);
        return;
      }
      if (streamId === 0) return;
      const key = `${localPort}/${streamId}`;
      let rec = byKey.get(key);
      if (rec === undefined) {
        rec = { events: [], headersSeen: new Set() };
        byKey.set(key, rec);
      }
      if (type === FRAME.HEADERS && !rec.headersSeen.has(from)) {
        rec.headersSeen.add(from);
        rec.events.push({ at, from, what: 'HEADERS' });
      }
      if ((type === FRAME.DATA || type === FRAME.HEADERS) && (flags & END_STREAM) !== 0)
        rec.events.push({ at, from, what: 'END_STREAM' });
      if (type === FRAME.RST_STREAM)
        rec.events.push({
          at,
          from,
          what: `RST_STREAM(${payload.length >= 4 ? errorCodeName(payload.readUInt32BE(0)) : '?'})`,
        });
    };
    return {
      onFrame: (from, frame) => {
        if (localPort === 0) early.push(() => record(from, frame));
        else record(from, frame);
      },
    };
  });
  return {
    port: proxy.port,
    events: (peerPort, streamId) => byKey.get(`${peerPort}/${streamId}`)?.events ?? [],
    close: () => proxy.close(),
  };
}
