// Counts of long texts seen recently. A chat client resends the whole conversation every turn, so all but the last
// message of a prompt were usually counted moments ago; byte-pair encoding them again is most of a request's CPU
// with budgets on (docs/benchmarks.md "Where the rest goes"). Keys are SHA-256 digests, so no prompt text outlives
// its request; a count depends only on the encoding and the text, so a hit is exactly what counting would give.
import { createHash } from 'node:crypto';

export interface TextCount {
  readonly tokens: number;
  /** The text was counted in segments (long-runs.ts): the count is approximate. */
  readonly longRun: boolean;
}

/**
 * Shorter texts are cheaper to count than to hash and look up. Measured (o200k, Node 20): a 32-character text costs
 * ~2 µs to count and ~0.6 µs to hash, 200 characters ~5 µs and ~0.7 µs; so short system prompts and turns that every
 * request repeats are worth caching too (docs/benchmarks.md, "Where c=1 latency goes").
 */
export const MIN_CACHED_CHARS = 32;
/** Entries kept (least recently used goes first): ~150 bytes each. */
export const CACHED_TEXTS = 8_192;

export class TextCountCache {
  readonly #entries = new Map<string, TextCount>();

  constructor(private readonly capacity: number = CACHED_TEXTS) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The count of `text` in `encoding`, computed by `count` unless a recent call counted the same text. */
  count(encoding: string, text: string, count: () => TextCount): TextCount {
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
