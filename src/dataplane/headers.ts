// An ordered HTTP header list as Envoy's header map holds it: lower-case names, pseudo-headers (":method", ...)
// first, duplicates kept as separate entries. Values are byte strings carried in JavaScript strings as latin1, so
// bytes survive the round trip node → ext_proc `raw_value` → node unchanged.
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMap } from '../generated/envoy/config/core/v3/HeaderMap.js';

export type HeaderList = Array<[name: string, value: string]>;

/** Connection-specific headers Envoy's HTTP/1 codec does not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

export function getHeader(headers: HeaderList, name: string): string | undefined {
  for (const [k, v] of headers) if (k === name) return v;
  return undefined;
}

/** All values of a header joined with "," (what Envoy's header matcher sees for a repeated header). */
export function getJoined(headers: HeaderList, name: string): string | undefined {
  const values = headers.filter(([k]) => k === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(',');
}

export function hasHeader(headers: HeaderList, name: string): boolean {
  return headers.some(([k]) => k === name);
}

/** Envoy's setCopy: the first entry takes the value, later duplicates go. Absent headers are appended. */
export function setHeader(headers: HeaderList, name: string, value: string): void {
  const first = headers.findIndex(([k]) => k === name);
  if (first < 0) {
    addHeader(headers, name, value);
    return;
  }
  headers[first] = [name, value];
  for (let i = headers.length - 1; i > first; i--) if (headers[i]?.[0] === name) headers.splice(i, 1);
}

/** Envoy's addCopy: another entry; pseudo-headers stay in front of regular ones. */
export function addHeader(headers: HeaderList, name: string, value: string): void {
  if (name.startsWith(':')) {
    const firstRegular = headers.findIndex(([k]) => !k.startsWith(':'));
    headers.splice(firstRegular < 0 ? headers.length : firstRegular, 0, [name, value]);
  } else {
    headers.push([name, value]);
  }
}

export function removeHeader(headers: HeaderList, name: string): void {
  for (let i = headers.length - 1; i >= 0; i--) if (headers[i]?.[0] === name) headers.splice(i, 1);
}

export function toProtoHeaderMap(headers: HeaderList): HeaderMap {
  return { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) };
}

/** Names listed in a Connection header are hop-by-hop too. */
function connectionListed(raw: readonly string[]): Set<string> {
  const listed = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() !== 'connection') continue;
    for (const token of (raw[i + 1] ?? '').split(',')) listed.add(token.trim().toLowerCase());
  }
  return listed;
}

/** Regular headers from node's rawHeaders (name/value alternating), without hop-by-hop ones. */
export function fromRawHeaders(raw: readonly string[]): HeaderList {
  const listed = connectionListed(raw);
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out.push([name, raw[i + 1] ?? '']);
  }
  return out;
}

/** Flat [name, value, name, value, ...] list for node's writeHead / http.request, pseudo-headers dropped. */
export function toNodeHeaders(headers: HeaderList, drop: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of headers) {
    if (k.startsWith(':') || HOP_BY_HOP.has(k) || drop.includes(k)) continue;
    out.push(k, v);
  }
  return out;
}

/** Whether an incoming HTTP/1.1 message carries a body (RFC 9112 §6.3). */
export function incomingHasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}
