// A transparent loopback TCP proxy that reads the HTTP/2 frame headers flowing through it (h2c with prior knowledge,
// as grpc-js and Envoy's `llm-extproc` cluster speak it) and hands each frame to the caller's tap. HPACK and
// payloads are not decoded (only RST_STREAM and GOAWAY payloads are passed on: their error codes), so it costs
// little and needs no capture privileges. Two taps use it: the parity harness's per-stream wire record
// (parity/h2-tap.ts) and the soak's close-pattern report (bench/h2-tap.ts).
import net from 'node:net';

/** Who sent a frame: the gRPC client (the data plane) or the gRPC server (the ext_proc service). */
export type FrameSide = 'client' | 'server';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, PING: 6, GOAWAY: 7 } as const;
export const FRAME_TYPES = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];
export const END_STREAM = 0x1;
const PREFACE_LENGTH = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'.length;
const ERROR_CODES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

export function errorCodeName(code: number): string {
  return ERROR_CODES[code] ?? `0x${code.toString(16)}`;
}

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  /** The payload of RST_STREAM and GOAWAY frames, and of DATA frames when asked for (copied out of the chunk); empty otherwise. */
  readonly payload: Buffer;
}

/** What the caller does with one proxied connection's frames. */
export interface ConnectionTap {
  onFrame(from: FrameSide, frame: Frame): void;
  /** The connection closed (both sockets are destroyed by then). */
  onClose?(): void;
}

export interface FrameProxy {
  /** Loopback port to point the client at. */
  readonly port: number;
  close(): Promise<void>;
}

/** A parser of one direction: frame headers out of a byte stream, the client's connection preface skipped. */
function frameParser(
  from: FrameSide,
  onFrame: ConnectionTap['onFrame'],
  dataPayloads: boolean,
): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let prefaceLeft = from === 'client' ? PREFACE_LENGTH : 0;
  return (chunk) => {
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
      const read = type === FRAME.RST_STREAM || type === FRAME.GOAWAY || (dataPayloads && type === FRAME.DATA);
      const payload = read ? Buffer.from(pending.subarray(9, 9 + length)) : Buffer.alloc(0);
      onFrame(from, { type, flags, streamId, payload });
      pending = pending.subarray(9 + length);
    }
    if (pending.length > 0) pending = Buffer.from(pending); // do not pin the whole chunk
  };
}

export interface FrameProxyOptions {
  /** Hand DATA payloads to the tap too (to read the gRPC messages inside). Default false. */
  readonly dataPayloads?: boolean;
}

/** Starts the proxy on a loopback port; each connection is proxied to `target` and watched by `tap(serverSide)`. */
export async function startFrameProxy(
  target: { readonly host: string; readonly port: number },
  tap: (serverSide: net.Socket) => ConnectionTap,
  options: FrameProxyOptions = {},
): Promise<FrameProxy> {
  const dataPayloads = options.dataPayloads === true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((clientSide) => {
    const serverSide = net.connect(target.port, target.host);
    sockets.add(clientSide);
    sockets.add(serverSide);
    clientSide.setNoDelay(true);
    serverSide.setNoDelay(true);
    const connection = tap(serverSide);
    const fromClient = frameParser('client', (from, frame) => connection.onFrame(from, frame), dataPayloads);
    const fromServer = frameParser('server', (from, frame) => connection.onFrame(from, frame), dataPayloads);
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
    let closed = false;
    const closeBoth = (): void => {
      clientSide.destroy();
      serverSide.destroy();
      sockets.delete(clientSide);
      sockets.delete(serverSide);
      if (closed) return;
      closed = true;
      connection.onClose?.();
    };
    clientSide.on('close', closeBoth);
    serverSide.on('close', closeBoth);
    clientSide.on('error', () => undefined);
    serverSide.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
