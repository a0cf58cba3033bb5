import { LRUCache } from 'lru-cache';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { CacheContext } from './table-cache.js';

/** Options of one `getOrSet`. */
export interface GetOrSetOptions {
  /** How long a loaded value is served as fresh. Required: a derived value is never cached forever. */
  readonly ttlMs: number;
  /**
   * After `ttlMs`, the old value is still served for this long while one loader refreshes it in
   * the background, and while that loader fails (bentocache's grace period). Default 0: none.
   */
  readonly graceMs?: number;
  /**
   * Tables the value is computed from: any committed change to one of them drops it, here at
   * once, in other processes on the same SQLite file through data_version, and in other
   * instances over the Redis channel, within the cache's stale bound.
   */
  readonly dependsOn?: readonly ({ readonly name: string } | string)[];
}

/** The derived-value face of `db.cache`. */
export interface DerivedCacheApi {
  /**
   * The value cached under `key`, or `loader()`'s result, stored for `ttlMs`. Concurrent callers
   * of one missing key share one loader call. A loader's rejection reaches its callers and is not
   * cached (unless a graced old value can be served instead).
   */
  getOrSet<V>(key: string, loader: () => V | Promise<V>, options: GetOrSetOptions): Promise<V>;
  /** Drops every derived value depending on `table` (and that table's cached rows), here and in other instances. */
  invalidate(table: { readonly name: string } | string, key?: unknown): void;
  /** Drops one derived value in this process. */
  delete(key: string): void;
}

export interface DerivedCounters {
  hits: number;
  misses: number;
  /** Values served past their TTL within their grace period. */
  graceHits: number;
  loads: number;
  loadFailures: number;
  /** Loads whose result was not stored because a dependency changed while they ran. */
  staleDrops: number;
  invalidations: number;
}

interface Entry {
  readonly value: unknown;
  /** performance.now() after which the value is no longer fresh. */
  readonly freshUntil: number;
  /** performance.now() after which it is not served at all. */
  readonly graceUntil: number;
  readonly dependsOn: readonly string[];
}

interface Load {
  promise: Promise<unknown>;
  readonly dependsOn: readonly string[];
  /** Set when a dependency changed (or a flush came) while the loader ran: its result is not stored. */
  stale: boolean;
}

/**
 * Derived values (a conversation's context, a report) cached beside the rows they are computed
 * from, invalidated by the same commit feed, foreign-commit watch and Redis channel as rows. L1
 * only: a hit costs a Map lookup and a clock read, as a row hit does.
 */
export class DerivedCache {
  readonly counters: DerivedCounters = { hits: 0, misses: 0, graceHits: 0, loads: 0, loadFailures: 0, staleDrops: 0, invalidations: 0 };
  readonly #context: CacheContext;
  readonly #entries: LRUCache<string, Entry>;
  readonly #loads = new Map<string, Load>();
  /** table → keys of the values computed from it. */
  readonly #byTable = new Map<string, Set<string>>();

  constructor(context: CacheContext, maxEntries: number) {
    this.#context = context;
    this.#entries = new LRUCache<string, Entry>({
      max: maxEntries,
      dispose: (entry, key) => this.#unlink(key, entry),
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Something a commit could make stale: a stored value or a load in flight. */
  get active(): boolean {
    return this.#entries.size > 0 || this.#loads.size > 0;
  }

  getOrSet<V>(key: string, loader: () => V | Promise<V>, options: GetOrSetOptions): Promise<V> {
    let checked: ReturnType<typeof checkOptions>;
    try {
      checked = checkOptions(key, loader, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { ttlMs, graceMs, dependsOn } = checked;
    const now = this.#context.beforeRead();
    const clock = now >= 0 ? now : performance.now();
    const entry = this.#entries.get(key);
    if (entry && clock < entry.freshUntil) {
      this.counters.hits++;
      return Promise.resolve(entry.value as V);
    }
    if (entry && clock < entry.graceUntil) {
      // Stale but within grace: serve it, and let one loader refresh it behind the caller's back.
      this.counters.graceHits++;
      this.#load(key, loader, ttlMs, graceMs, dependsOn).catch(() => {});
      return Promise.resolve(entry.value as V);
    }
    this.counters.misses++;
    return this.#load(key, loader, ttlMs, graceMs, dependsOn) as Promise<V>;
  }

  #load(key: string, loader: () => unknown, ttlMs: number, graceMs: number, dependsOn: readonly string[]): Promise<unknown> {
    const running = this.#loads.get(key);
    if (running && !running.stale) return running.promise;
    const startedAt = performance.now();
    const coherentAtStart = this.#context.coherent;
    const epoch = this.#context.epoch;
    const load: Load = { promise: Promise.resolve(), dependsOn, stale: false };
    this.counters.loads++;
    load.promise = (async () => {
      try {
        const value = await loader();
        const fresh = this.#context.ttlCap(ttlMs, startedAt, coherentAtStart);
        if (load.stale || epoch !== this.#context.epoch) this.counters.staleDrops++;
        else if (fresh > 0) this.#store(key, value, fresh, graceMs, dependsOn);
        return value;
      } catch (error) {
        this.counters.loadFailures++;
        throw error;
      } finally {
        this.#context.recordLoad(performance.now() - startedAt);
        if (this.#loads.get(key) === load) this.#loads.delete(key);
      }
    })();
    this.#loads.set(key, load);
    return load.promise;
  }

  #store(key: string, value: unknown, freshMs: number, graceMs: number, dependsOn: readonly string[]): void {
    const now = performance.now();
    this.#entries.set(key, { value, freshUntil: now + freshMs, graceUntil: now + freshMs + graceMs, dependsOn });
    for (const table of dependsOn) {
      let keys = this.#byTable.get(table);
      if (!keys) {
        keys = new Set();
        this.#byTable.set(table, keys);
      }
      keys.add(key);
    }
  }

  #unlink(key: string, entry: Entry): void {
    for (const table of entry.dependsOn) {
      const keys = this.#byTable.get(table);
      keys?.delete(key);
      if (keys?.size === 0) this.#byTable.delete(table);
    }
  }

  /** A commit (ours, another process's, another instance's) changed `table`: what was computed from it goes. */
  tableChanged(table: string): void {
    const keys = this.#byTable.get(table);
    if (keys) {
      for (const key of [...keys]) {
        this.#entries.delete(key);
        this.counters.invalidations++;
      }
    }
    // A loader that may have read the table before the commit must not store what it read.
    for (const load of this.#loads.values()) if (load.dependsOn.includes(table)) load.stale = true;
  }

  delete(key: string): void {
    this.#entries.delete(key);
    const load = this.#loads.get(key);
    if (load) load.stale = true;
  }

  /** A flush of everything (a foreign commit we cannot name, a missed channel message). */
  clear(): void {
    this.#entries.clear();
    for (const load of this.#loads.values()) load.stale = true;
  }
}

function checkOptions(
  key: unknown,
  loader: unknown,
  options: GetOrSetOptions | undefined,
): Required<Omit<GetOrSetOptions, 'dependsOn'>> & { dependsOn: string[] } {
  const fail = (message: string, value: unknown): never => {
    throw new SluiceError('VALIDATION', `cache.getOrSet: ${message}`, { value });
  };
  if (typeof key !== 'string' || key.length === 0) fail(`the key must be a non-empty string, got ${describeValue(key)}.`, key);
  if (typeof loader !== 'function') fail(`the loader must be a function returning the value, got ${describeValue(loader)}.`, loader);
  if (options === null || typeof options !== 'object') {
    return fail(`options { ttlMs, graceMs?, dependsOn? } are required, got ${describeValue(options)}.`, options);
  }
  for (const name of Object.keys(options)) {
    if (name !== 'ttlMs' && name !== 'graceMs' && name !== 'dependsOn')
      fail(`unknown option "${name}"; known: ttlMs, graceMs, dependsOn.`, name);
  }
  const { ttlMs, graceMs = 0, dependsOn = [] } = options;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)
    fail(`ttlMs must be a positive number of milliseconds, got ${describeValue(ttlMs)}.`, ttlMs);
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0)
    fail(`graceMs must be a number of milliseconds >= 0, got ${describeValue(graceMs)}.`, graceMs);
  if (!Array.isArray(dependsOn)) fail(`dependsOn must be a list of tables, got ${describeValue(dependsOn)}.`, dependsOn);
  const tables = dependsOn.map((table) => {
    const name = typeof table === 'string' ? table : (table as { name?: unknown })?.name;
    if (typeof name !== 'string' || name.length === 0) fail(`dependsOn holds ${describeValue(table)}, not a table.`, table);
    return name as string;
  });
  return { ttlMs, graceMs, dependsOn: tables };
}
