// Test helper: a throwaway redis-server from scripts/redis-server.mjs (installed with apt-get when missing, as root).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'scripts', 'redis-server.mjs'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('repository root (with scripts/redis-server.mjs) not found');
    dir = parent;
  }
  return dir;
}

export async function startRedis(port?: number): Promise<TestRedis> {
  const mod = (await import(pathToFileURL(path.join(repoRoot(), 'scripts', 'redis-server.mjs')).href)) as {
    startRedis(options?: { port?: number }): Promise<TestRedis>;
  };
  return mod.startRedis(port === undefined ? {} : { port });
}
