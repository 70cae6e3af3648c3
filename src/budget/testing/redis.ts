// Test helper: a throwaway redis-server from scripts/redis-server.mjs (installed with apt-get when missing, as root).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../util/repo-root.js';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startRedis(port?: number): Promise<TestRedis> {
  const mod = (await import(pathToFileURL(path.join(repoRoot(), 'scripts', 'redis-server.mjs')).href)) as {
    startRedis(options?: { port?: number }): Promise<TestRedis>;
  };
  return mod.startRedis(port === undefined ? {} : { port });
}
