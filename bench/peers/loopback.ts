// Preloaded into a peer that has no flag for its listen address (Portkey's start-server.js binds every interface):
// `node --import dist/bench/peers/loopback.js …`. A listen() given a port and no host binds 127.0.0.1 instead, so
// every server of the bench stays on loopback. Nothing else changes.
import net from 'node:net';

const LOOPBACK = '127.0.0.1';
const original = net.Server.prototype.listen as (this: net.Server, ...args: unknown[]) => net.Server;

function withLoopback(args: unknown[]): unknown[] {
  const [first, second] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (second === undefined && args.length >= 2) return [first, LOOPBACK, ...args.slice(2)]; // listen(port, undefined, cb)
    if (second === undefined || typeof second === 'function') return [first, LOOPBACK, ...args.slice(1)]; // listen(port[, cb])
    return args;
  }
  if (first !== null && typeof first === 'object' && 'port' in first && !('host' in first && first.host)) {
    return [{ ...first, host: LOOPBACK }, ...args.slice(1)];
  }
  return args;
}

net.Server.prototype.listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
  return original.apply(this, withLoopback(args));
} as typeof net.Server.prototype.listen;
