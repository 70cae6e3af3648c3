// Token files a sidecar rotates (projected service-account tokens), read with a stat check per attempt.
import { readFileSync, statSync } from 'node:fs';

interface CachedToken {
  readonly mtimeMs: number;
  readonly size: number;
  readonly token: string;
}

/**
 * Reads OAuth access tokens from files that a sidecar rewrites (projected tokens): re-read only when the file's
 * mtime or size changed. Errors name the file (and what it holds), never its content; the upstream stage fails
 * the attempt.
 */
export class TokenFileReader {
  readonly #cache = new Map<string, CachedToken>();

  read(path: string, label = 'credential'): string {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new Error(`${label} file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        cause: err,
      });
    }
    const cached = this.#cache.get(path);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.token;
    let token: string;
    try {
      token = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new Error(`${label} file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        cause: err,
      });
    }
    if (!token) {
      this.#cache.delete(path);
      throw new Error(`${label} file ${path} is empty`);
    }
    this.#cache.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, token });
    return token;
  }
}
