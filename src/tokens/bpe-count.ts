// Counting byte-pair-encoded tokens without building them. A prompt's budget needs the NUMBER of tokens, so this
// skips what encoding does for ids: no id arrays, no special-token scan (special-token strings are text here), no
// LRU bookkeeping on every hit. It applies tiktoken's algorithm to each pre-token piece (the regex split's chunk):
// a piece that is itself a token is 1; otherwise adjacent parts are merged, lowest rank first (the leftmost of equal
// ranks), until no adjacent pair is a token, and the count is the number of parts left. exactness.test.ts and
// bpe-count.test.ts compare the result with tiktoken.
//
// Two things make it fast and bounded:
// - Piece counts are cached (PieceCountCache), whole tokens included: prose repeats its words, so most pieces were
//   seen moments ago, and a small hot map answers faster than the 200 000-entry rank table.
// - Long pieces are merged with a heap (O(n log n)) instead of tiktoken's scan for the minimum (O(n²)): the same
//   merges in the same order, so the same count, but 500 KB without a space take a fraction of a second, not an hour.

/** The rank of the token whose bytes are characters `start..end` of a one-byte string (one character per byte:
 * rank-table.ts). A range, so that merging never slices parts into new strings. */
export type RankLookup = (bytes: string, start: number, end: number) => number | undefined;

/** Pieces up to this many bytes are merged by scanning for the minimum, as tiktoken does; longer ones by heap. */
export const HEAP_MERGE_UNITS = 64;

/** Entries kept per encoding (about 80 bytes each, so ~2.5 MB when full); two generations of half of it. */
export const PIECE_CACHE_ENTRIES = 32_768;

/** Pieces longer than this (in UTF-8 bytes) are not cached: they rarely repeat and would crowd the cache. */
export const MAX_CACHED_PIECE_BYTES = 64;

const NO_RANK = Number.POSITIVE_INFINITY;
// Heap keys pack (rank, position) into one double: rank × 2^24 + position orders by rank, then leftmost first.
const POSITION_SPAN = 2 ** 24;

/** A bounded map from piece to count: new entries go to the young generation; when it is full it becomes the old
 * one and the previous old one is dropped. A hit in the old generation moves back to the young one. No per-hit
 * reordering, unlike an LRU; never more entries than its capacity. */
export class PieceCountCache {
  #young = new Map<string, number>();
  #old = new Map<string, number>();
  readonly #generation: number;

  constructor(capacity: number = PIECE_CACHE_ENTRIES) {
    this.#generation = Math.max(1, Math.floor(capacity / 2));
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(piece: string): number | undefined {
    const young = this.#young.get(piece);
    if (young !== undefined) return young;
    const old = this.#old.get(piece);
    if (old !== undefined) this.set(piece, old);
    return old;
  }

  set(piece: string, count: number): void {
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(piece, count);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}

/** Counts the tokens of pre-token pieces of one encoding. */
export class PieceCounter {
  readonly cache: PieceCountCache;

  constructor(
    private readonly rankOf: RankLookup,
    cacheEntries: number = PIECE_CACHE_ENTRIES,
  ) {
    this.cache = new PieceCountCache(cacheEntries);
  }

  /** Tokens of one piece of the split; `ascii` when the caller knows every character is below U+0080. */
  count(piece: string, ascii: boolean = isAscii(piece)): number {
    // An ASCII string is its own byte string; anything else is encoded to UTF-8 first.
    const bytes = ascii ? piece : Buffer.from(piece, 'utf8').toString('latin1');
    // The cache first, whole tokens included: it is small and hot, while the rank table (200 000 entries) is cold
    // in the CPU caches. Looking the rank table up first made counting 1.5 KB of prose ~1.5× slower.
    const cacheable = bytes.length <= MAX_CACHED_PIECE_BYTES;
    if (cacheable) {
      const hit = this.cache.get(bytes);
      if (hit !== undefined) return hit;
    }
    const count = this.rankOf(bytes, 0, bytes.length) !== undefined ? 1 : mergeCount(bytes, this.rankOf);
    if (cacheable) this.cache.set(bytes, count);
    return count;
  }
}

function isAscii(piece: string): boolean {
  for (let i = 0; i < piece.length; i++) if (piece.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Tokens of one piece (a byte string) by merging, without the cache. */
export function mergeCount(bytes: string, rankOf: RankLookup): number {
  const partRank = (start: number, end: number): number => rankOf(bytes, start, end) ?? NO_RANK;
  return bytes.length <= HEAP_MERGE_UNITS ? scanMerge(bytes.length, partRank) : heapMerge(bytes.length, partRank);
}

/** tiktoken's byte_pair_merge: find the lowest-ranked adjacent pair (leftmost on ties), merge it, repeat. O(n²). */
export function scanMerge(units: number, rankOf: (start: number, end: number) => number): number {
  if (units <= 1) return units;
  // starts[i] is where part i begins; ranks[i] is the rank of parts i and i+1 merged (NO_RANK past the end).
  const starts: number[] = [];
  const ranks: number[] = [];
  for (let i = 0; i <= units; i++) {
    starts.push(i);
    ranks.push(i + 2 <= units ? rankOf(i, i + 2) : NO_RANK);
  }
  for (;;) {
    let lowest = NO_RANK;
    let at = -1;
    for (let i = 0; i < ranks.length - 1; i++) {
      const rank = ranks[i] ?? NO_RANK;
      if (rank < lowest) {
        lowest = rank;
        at = i;
      }
    }
    if (at < 0) break;
    // Parts at and at+1 become one: the pairs ending or starting at it change.
    const start = starts[at] ?? 0;
    const after = starts[at + 3];
    ranks[at] = after === undefined ? NO_RANK : rankOf(start, after);
    if (at > 0) ranks[at - 1] = rankOf(starts[at - 1] ?? 0, starts[at + 2] ?? 0);
    starts.splice(at + 1, 1);
    ranks.splice(at + 1, 1);
  }
  return starts.length - 1;
}

/** The same merges as scanMerge in the same order, found with a binary heap: O(n log n). Parts are a linked list
 * indexed by their first unit; a heap entry (rank, part) is current while that part still has that pair rank. */
export function heapMerge(units: number, rankOf: (start: number, end: number) => number): number {
  if (units <= 1) return units;
  if (units >= POSITION_SPAN) throw new RangeError(`a piece of ${units} units is too long to merge`);
  const next = new Int32Array(units + 1); // next[i]: the start of the part after part i (units = the end)
  const prev = new Int32Array(units + 1);
  const pairRank = new Float64Array(units + 1); // rank of part i merged with the next part
  const alive = new Uint8Array(units + 1);
  const heap = new MinHeap(units);
  for (let i = 0; i < units; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    alive[i] = 1;
    const rank = i + 2 <= units ? rankOf(i, i + 2) : NO_RANK;
    pairRank[i] = rank;
    if (rank !== NO_RANK) heap.push(rank * POSITION_SPAN + i);
  }
  let parts = units;
  while (heap.size > 0) {
    const key = heap.pop();
    const at = key % POSITION_SPAN;
    const rank = (key - at) / POSITION_SPAN;
    if (alive[at] !== 1 || pairRank[at] !== rank) continue; // stale: the part changed since this entry
    const gone = next[at] ?? units;
    const after = next[gone] ?? units;
    alive[gone] = 0;
    next[at] = after;
    if (after < units) prev[after] = at;
    parts--;
    const merged = after < units ? rankOf(at, next[after] ?? units) : NO_RANK;
    pairRank[at] = merged;
    if (merged !== NO_RANK) heap.push(merged * POSITION_SPAN + at);
    const before = prev[at] ?? -1;
    if (before >= 0) {
      const left = rankOf(before, after);
      pairRank[before] = left;
      if (left !== NO_RANK) heap.push(left * POSITION_SPAN + before);
    }
  }
  return parts;
}

/** A binary min-heap of doubles; at most 3 entries per unit are ever pushed (one per pair, two per merge). */
class MinHeap {
  #items: Float64Array;
  size = 0;

  constructor(units: number) {
    this.#items = new Float64Array(Math.max(16, units * 2));
  }

  push(value: number): void {
    if (this.size === this.#items.length) {
      const grown = new Float64Array(this.#items.length * 2);
      grown.set(this.#items);
      this.#items = grown;
    }
    const items = this.#items;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent] ?? 0;
      if (above <= value) break;
      items[i] = above;
      i = parent;
    }
    items[i] = value;
  }

  pop(): number {
    const items = this.#items;
    const top = items[0] ?? 0;
    const last = items[--this.size] ?? 0;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const leftValue = items[left] ?? 0;
      const rightValue = right < this.size ? (items[right] ?? 0) : NO_RANK;
      const child = rightValue < leftValue ? right : left;
      const childValue = rightValue < leftValue ? rightValue : leftValue;
      if (last <= childValue) break;
      items[i] = childValue;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
