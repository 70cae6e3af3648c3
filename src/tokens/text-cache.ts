// Counts of long texts seen recently. A chat client resends the whole conversation every turn, so all but the last
// message of a prompt were usually counted moments ago; byte-pair encoding them again is most of a request's CPU
// with budgets on (docs/benchmarks.md "Where the rest goes"). Keys are SHA-256 digests, so no prompt text outlives
// its request; a count depends only on the encoding and the text, so a hit is exactly what counting would give.
import { createHash } from 'node:crypto';

/**
 * Shorter texts are cheaper to count than to hash and look up. Measured with the piece counter (o200k, Node 20,
 * English text, warm piece cache): 64 characters count in ~1.1 µs and hash in ~0.65 µs, 128 in ~1.9 µs vs 0.63,
 * 256 in ~4.3 µs vs 0.72; below ~64 hashing no longer pays.
 */
export const MIN_CACHED_CHARS = 64;
/** Entries kept (least recently used goes first): ~150 bytes each. */
export const CACHED_TEXTS = 8_192;

export class TextCountCache {
  readonly #entries = new Map<string, number>();

  constructor(private readonly capacity: number = CACHED_TEXTS) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The count of `text` in `encoding`, computed by `count` unless a recent call counted the same text. */
  count(encoding: string, text: string, count: () => number): number {
    if (text.length < MIN_CACHED_CHARS) return count();
    const key = encoding + createHash('sha256').update(text).digest('base64');
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      // Most recently used moves to the end of the insertion order.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const fresh = count();
    this.#entries.set(key, fresh);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    return fresh;
  }
}
