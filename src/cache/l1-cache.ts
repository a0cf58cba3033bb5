import { LRUCache } from 'lru-cache';
import type { CacheKey } from './cache-key.js';
import { estimateBytes } from './size-estimate.js';

/** Marks a key known to have no row (negative caching). */
export const ABSENT: unique symbol = Symbol('sluice.absent');
export type Cached<V> = V | typeof ABSENT;

export interface L1Limits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/**
 * The in-process tier: an LRU bounded by entries and estimated bytes, each entry with its own
 * TTL. Values are frozen before they go in, so a caller cannot change what the next one reads.
 */
export class L1Cache<V extends object> {
  readonly #lru: LRUCache<CacheKey, Cached<V> & {}>;
  readonly #maxBytes: number;

  constructor(limits: L1Limits) {
    this.#maxBytes = limits.maxBytes;
    this.#lru = new LRUCache<CacheKey, Cached<V> & {}>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      sizeCalculation: (value, key) => this.#size(key, value),
      // The clock set() callers read: an entry's start is theirs, its age the LRU's.
      perf: performance,
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
    });
  }

  get(key: CacheKey): Cached<V> | undefined {
    return this.#lru.get(key);
  }

  /**
   * Stores `value` for `ttlMs` from `now` (performance.now(), the LRU's clock): a caller that
   * has just read the clock passes it, which saves the LRU reading it again.
   */
  set(key: CacheKey, value: Cached<V>, ttlMs: number, now = performance.now()): void {
    if (ttlMs <= 0) return;
    this.#lru.set(key, value as Cached<V> & {}, { ttl: ttlMs, start: now, size: this.#size(key, value) });
  }

  delete(key: CacheKey): void {
    this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  #size(key: CacheKey, value: Cached<V>): number {
    return Math.min(this.#maxBytes, 48 + (typeof key === 'string' ? key.length * 2 : 8) + (value === ABSENT ? 8 : estimateBytes(value)));
  }
}

/** Freezes a row and the JSON values inside it (Dates and binary values stay as they are). */
export function freezeDeep<T>(value: T): T {
  if (
    value !== null &&
    typeof value === 'object' &&
    !Object.isFrozen(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date)
  ) {
    Object.freeze(value);
    for (const key in value) {
      const inner = (value as Record<string, unknown>)[key];
      if (inner !== null && typeof inner === 'object') freezeDeep(inner);
    }
  }
  return value;
}
