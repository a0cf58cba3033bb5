/** One load in flight for a key; `stale` is set when the key is invalidated while it runs. */
import type { CacheKey } from './cache-key.js';

export interface Flight<V> {
  promise: Promise<V>;
  stale: boolean;
}

/**
 * Concurrent misses for one key share one load. An invalidation detaches the flight: callers
 * arriving after a commit start a fresh load instead of joining one that began before it, and
 * the detached load's result is not cached. A load calls `settle` when it ends.
 */
export class SingleFlight<V> {
  readonly #flights = new Map<CacheKey, Flight<V>>();

  /** The load in flight for `key`, if any. */
  get(key: CacheKey): Flight<V> | undefined {
    return this.#flights.get(key);
  }

  run(key: CacheKey, load: (flight: Flight<V>) => Promise<V>): Promise<V> {
    const existing = this.#flights.get(key);
    if (existing) return existing.promise;
    const flight: Flight<V> = { promise: undefined as unknown as Promise<V>, stale: false };
    this.#flights.set(key, flight);
    flight.promise = load(flight);
    return flight.promise;
  }

  /** The load of `flight` ended: later callers start their own. */
  settle(key: CacheKey, flight: Flight<V>): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key);
  }

  forget(key: CacheKey): void {
    const flight = this.#flights.get(key);
    if (flight) {
      flight.stale = true;
      this.#flights.delete(key);
    }
  }

  forgetAll(): void {
    for (const flight of this.#flights.values()) flight.stale = true;
    this.#flights.clear();
  }

  get size(): number {
    return this.#flights.size;
  }
}
