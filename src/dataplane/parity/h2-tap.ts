// Parity harness: a transparent TCP proxy in front of the fake ext_proc server that reads the HTTP/2 frame headers
// going through it (h2c with prior knowledge, as the stand-in's grpc-js client and Envoy's `llm-extproc` cluster
// speak it) and records, per stream, the frames that open and close it: the client's END_STREAM (a half-close), an
// RST_STREAM from either side with its error code, the server's END_STREAM (the gRPC status trailers). This is
// what "how did the data plane end the Process stream?" is answered from: the wire, not a library's reading of it.
// HPACK and payloads are not decoded. Loopback only.
import net from 'node:net';

export type Side = 'client' | 'server';

const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, GOAWAY: 7 } as const;
const END_STREAM = 0x1;
const PREFACE_LENGTH = 24;
const ERROR_CODES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR',
  'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

export function errorCodeName(code: number): string {
  return ERROR_CODES[code] ?? `0x${code.toString(16)}`;
}

/** One opening or closing frame of a stream. */
export interface WireEvent {
  readonly at: number;
  readonly from: Side;
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
  readonly headersSeen: Set<Side>;
}

export async function startH2Tap(target: { readonly host: string; readonly port: number }): Promise<H2Tap> {
  const byKey = new Map<string, StreamRecord>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((clientSide) => {
    const serverSide = net.connect(target.port, target.host);
    sockets.add(clientSide);
    sockets.add(serverSide);
    clientSide.setNoDelay(true);
    serverSide.setNoDelay(true);
    let localPort = 0;
    const early: Array<() => void> = [];
    serverSide.on('connect', () => {
      localPort = serverSide.localPort ?? 0;
      for (const f of early.splice(0)) f();
    });
    const connectionGoaways: WireEvent[] = [];

    const record = (from: Side, type: number, flags: number, streamId: number, payload: Buffer): void => {
      const at = Date.now();
      if (type === FRAME.GOAWAY) {
        const code = payload.length >= 8 ? errorCodeName(payload.readUInt32BE(4)) : '?';
        const event: WireEvent = { at, from, what: `GOAWAY(${code})` };
        connectionGoaways.push(event);
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
      if ((type === FRAME.DATA || type === FRAME.HEADERS) && (flags & END_STREAM) !== 0) rec.events.push({ at, from, what: 'END_STREAM' });
      if (type === FRAME.RST_STREAM) rec.events.push({ at, from, what: `RST_STREAM(${payload.length >= 4 ? errorCodeName(payload.readUInt32BE(0)) : '?'})` });
    };

    const parser = (from: Side, prefaceLength: number) => {
      let pending: Buffer = Buffer.alloc(0);
      let prefaceLeft = prefaceLength;
      return (chunk: Buffer): void => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        if (prefaceLeft > 0) {
          const skip = Math.min(prefaceLeft, pending.length);
          pending = pending.subarray(skip);
          prefaceLeft -= skip;
        }
        while (pending.length >= 9) {
          const length = pending.readUIntBE(0, 3);
          if (pending.length < 9 + length) break;
          const type = pending[3] ?? 0;
          const flags = pending[4] ?? 0;
          const streamId = pending.readUInt32BE(5) & 0x7fffffff;
          const payload = type === FRAME.RST_STREAM || type === FRAME.GOAWAY ? Buffer.from(pending.subarray(9, 9 + length)) : Buffer.alloc(0);
          if (localPort === 0) early.push(() => record(from, type, flags, streamId, payload));
          else record(from, type, flags, streamId, payload);
          pending = pending.subarray(9 + length);
        }
        if (pending.length > 0) pending = Buffer.from(pending);
      };
    };
    const fromClient = parser('client', PREFACE_LENGTH);
    const fromServer = parser('server', 0);
    clientSide.on('data', (chunk: Buffer) => {
      fromClient(chunk);
      if (!serverSide.write(chunk)) clientSide.pause();
    });
    serverSide.on('drain', () => clientSide.resume());
    serverSide.on('data', (chunk: Buffer) => {
      fromServer(chunk);
      if (!clientSide.write(chunk)) serverSide.pause();
    });
    clientSide.on('drain', () => serverSide.resume());
    const closeBoth = (): void => {
      clientSide.destroy();
      serverSide.destroy();
      sockets.delete(clientSide);
      sockets.delete(serverSide);
    };
    clientSide.on('close', closeBoth);
    serverSide.on('close', closeBoth);
    clientSide.on('error', () => undefined);
    serverSide.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    events: (peerPort, streamId) => byKey.get(`${peerPort}/${streamId}`)?.events ?? [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
