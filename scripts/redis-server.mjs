// A throwaway redis-server on a free loopback port, for tests and benchmarks (docs/budgets.md).
//
//   import { startRedis } from '../scripts/redis-server.mjs';
//   const redis = await startRedis();   // { port, url, stop() }
//   node scripts/redis-server.mjs       // runs one until Ctrl-C
//   node scripts/redis-server.mjs ensure  // installs redis-server if missing (npm test's pretest step)
//
// Uses redis-server from PATH; when it is missing and we run as root (CI), installs it with apt-get. No persistence
// (--save '' --appendonly no), bound to 127.0.0.1 only.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function hasRedisServer() {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

export function ensureRedisServer() {
  if (hasRedisServer()) return;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('redis-server is not on PATH and this is not root: install it (apt-get install -y redis-server)');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  process.stderr.write('redis-server not found: installing it with apt-get …\n');
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (!hasRedisServer()) throw new Error('apt-get installed redis-server but it is still not on PATH');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts redis-server; resolves once it answers PING. Options: { port (default: a free one), timeoutMs = 10000 }. */
export async function startRedis({ port: wantedPort, timeoutMs = 10_000 } = {}) {
  ensureRedisServer();
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = wantedPort ?? (await freePort());
    const dir = mkdtempSync(path.join(tmpdir(), 'redis-'));
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c.toString()));
    let exited = false;
    const exit = new Promise((resolve) => child.once('exit', () => ((exited = true), resolve())));
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const stop = async () => {
      process.removeListener('exit', killOnExit);
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + timeoutMs;
    while (!exited && Date.now() < deadline) {
      if (await ping(port)) return { port, url: `redis://127.0.0.1:${port}`, pid: child.pid, stop };
      await sleep(50);
    }
    lastError = new Error(
      `redis-server on port ${port} did not answer PING: ${stderr.trim() || (exited ? 'it exited' : 'timeout')}`,
    );
    await stop();
  }
  throw lastError;
}

if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) &&
  process.argv[2] === 'ensure'
) {
  // `npm test` runs this first (pretest), so parallel test files never race two apt-get runs.
  ensureRedisServer();
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const redis = await startRedis();
  console.log(`redis-server ready: ${redis.url} (pid ${redis.pid}); Ctrl-C stops it`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void redis.stop().then(() => process.exit(0)));
}
