// Where the repository (package.json, envoy/, scripts/, src/config/) is, seen from compiled code in dist/. Used by
// tests that read the shipped Envoy YAML and the default service config, the test Redis helper (which starts
// scripts/redis-server.mjs) and the benchmarks.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}
