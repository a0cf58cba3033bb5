import { LRUCache } from 'lru-cache';
import type { TableCachePolicy } from '../schema/cache-policy.js';
import type { CacheKey } from './cache-key.js';
import { ABSENT, type Cached, freezeDeep, L1Cache } from './l1-cache.js';
import type { FillToken, RedisTier } from './redis-tier.js';
import { type Flight, SingleFlight } from './single-flight.js';
import { estimateBytes } from './size-estimate.js';

type Row = Record<string, unknown>;
/** Reads one row by its driver-encoded key: synchronously when the driver can, else a promise. */
export type RowLoader = (encoded: readonly unknown[]) => Row | undefined | Promise<Row | undefined>;

/** What every table's cache shares with the database's cache. */
export interface CacheContext {
  /** Bumped when every table must drop everything (a foreign commit, a missed message). */
  readonly epoch: number;
  /**
   * Notices commits made elsewhere; cheap except once per interval. Returns the performance.now()
   * it read to do so, or -1 when it read no clock, so a miss need not read it again.
   */
  beforeRead(): number;
  readonly tier: RedisTier | undefined;
  /** Other instances' and processes' commits reach us now (data_version, or a trusted channel). */
  readonly coherent: boolean;
  /**
   * The longest an entry loaded from `startedAt` may live: its full TTL only if commits made
   * elsewhere reached us for the whole load and still do, else what is left of the stale bound.
   */
  ttlCap(ttlMs: number, startedAt: number, coherentAtStart: boolean): number;
  recordLoad(ms: number): void;
}

export interface TableCacheCounters {
  hits: number;
  misses: number;
  loads: number;
  /** Loads whose result was not cached because a commit or a flush overtook them. */
  staleDrops: number;
  invalidations: number;
  queryHits: number;
  queryMisses: number;
}

interface QueryEntry {
  readonly generation: number;
  readonly value: unknown;
}

/**
 * The cache of one table: rows by key (L1, then L2) with single-flight loads and negative
 * entries, and find/count results keyed by the normalised query, valid for one generation of
 * the table (any write to it starts a new one).
 */
export class TableCache {
  readonly table: string;
  readonly policy: TableCachePolicy;
  readonly counters: TableCacheCounters = { hits: 0, misses: 0, loads: 0, staleDrops: 0, invalidations: 0, queryHits: 0, queryMisses: 0 };
  readonly #context: CacheContext;
  readonly #rows: L1Cache<Row>;
  readonly #flights = new SingleFlight<Row | undefined>();
  readonly #queries: LRUCache<string, QueryEntry>;
  readonly #queryFlights = new SingleFlight<unknown>();
  #generation = 0;
  /** Keys committed while each warm() in progress was reading. */
  readonly #warming = new Set<Set<CacheKey>>();

  constructor(table: string, policy: TableCachePolicy, context: CacheContext, queryMaxEntries: number) {
    this.table = table;
    this.policy = policy;
    this.#context = context;
    this.#rows = new L1Cache<Row>(policy);
    this.#queries = new LRUCache<string, QueryEntry>({
      max: queryMaxEntries,
      maxSize: policy.maxBytes,
      sizeCalculation: (entry, key) => Math.min(policy.maxBytes, 64 + key.length * 2 + estimateBytes(entry.value)),
      ttl: policy.ttlMs,
      allowStale: false,
    });
  }

  /**
   * A row by its cache key: L1, then L2, then one shared load from the database. A load the
   * driver answers synchronously is stored before anyone else can ask, so it needs no flight:
   * nothing can join it, and no commit can land between its read and its store.
   */
  get(key: CacheKey, encoded: readonly unknown[], load: RowLoader): Row | undefined | Promise<Row | undefined> {
    const checkedAt = this.#context.beforeRead();
    const cached = this.#rows.get(key);
    if (cached !== undefined) {
      this.counters.hits++;
      return cached === ABSENT ? undefined : cached;
    }
    this.counters.misses++;
    const flying = this.#flights.get(key);
    if (flying !== undefined) return flying.promise;
    const tier = this.policy.l2 ? this.#context.tier : undefined;
    if (tier) return this.#flights.run(key, (flight) => this.#sharedMiss(key, encoded, load, tier, flight));
    const epoch = this.#context.epoch;
    const coherent = this.#context.coherent;
    // The clock the data_version check just read: a load counts as begun a little early, which
    // only shortens a stale-bound TTL.
    const startedAt = checkedAt >= 0 ? checkedAt : performance.now();
    const loaded = load(encoded);
    if (loaded instanceof Promise) {
      return this.#flights.run(key, (flight) => this.#awaitLoad(key, loaded, epoch, startedAt, coherent, flight));
    }
    return this.#loaded(key, loaded, epoch, startedAt, coherent, false);
  }

  /** A find or count result by normalised query; any write to the table retires it. */
  query<T>(key: string, load: () => Promise<T>): Promise<T> {
    this.#context.beforeRead();
    const generation = this.#generation;
    const entry = this.#queries.get(key);
    if (entry !== undefined && entry.generation === generation) {
      this.counters.queryHits++;
      return Promise.resolve(entry.value as T);
    }
    this.counters.queryMisses++;
    const flightKey = `${generation}|${key}`;
    return this.#queryFlights.run(flightKey, async (flight) => {
      try {
        const epoch = this.#context.epoch;
        const startedAt = performance.now();
        const coherent = this.#context.coherent;
        const value = freezeDeep(await this.#timedLoad(load));
        const ttl = this.#context.ttlCap(this.policy.ttlMs, startedAt, coherent);
        if (!flight.stale && generation === this.#generation && epoch === this.#context.epoch) {
          if (ttl > 0) this.#queries.set(key, { generation, value }, { ttl });
        } else {
          this.counters.staleDrops++;
        }
        return value;
      } finally {
        this.#queryFlights.settle(flightKey, flight);
      }
    }) as Promise<T>;
  }

  /**
   * Preloads rows read by one query. A row whose key was committed while the query ran is left
   * out (it may predate the commit), and nothing is stored if the whole cache was flushed
   * meanwhile; returns how many rows were stored.
   */
  async warm(read: () => Promise<{ key: CacheKey; row: Row }[]>): Promise<number> {
    this.#context.beforeRead();
    const epoch = this.#context.epoch;
    const startedAt = performance.now();
    const coherent = this.#context.coherent;
    const changed = new Set<CacheKey>();
    this.#warming.add(changed);
    let rows: { key: CacheKey; row: Row }[];
    try {
      rows = await read();
    } finally {
      this.#warming.delete(changed);
    }
    if (epoch !== this.#context.epoch) {
      this.counters.staleDrops += rows.length;
      return 0;
    }
    const ttl = this.#context.ttlCap(this.policy.ttlMs, startedAt, coherent);
    let stored = 0;
    for (const { key, row } of rows) {
      if (changed.has(key)) {
        this.counters.staleDrops++;
        continue;
      }
      this.#rows.set(key, freezeDeep(row), ttl);
      stored++;
    }
    return stored;
  }

  /** A commit (ours or, by the channel, another instance's) changed these keys. */
  invalidate(keys: readonly CacheKey[]): void {
    this.counters.invalidations += keys.length;
    for (const changed of this.#warming) for (const key of keys) changed.add(key);
    for (const key of keys) {
      this.#rows.delete(key);
      this.#flights.forget(key);
    }
    this.#generation++;
  }

  /** Drops every row and query result, and detaches loads in flight. */
  clear(): void {
    this.#rows.clear();
    this.#flights.forgetAll();
    this.#queries.clear();
    this.#queryFlights.forgetAll();
    this.#generation++;
  }

  get entries(): number {
    return this.#rows.size;
  }

  get bytes(): number {
    return this.#rows.bytes + this.#queries.calculatedSize;
  }

  /** A miss on a table kept in Redis too: L2 first, then the database, filling both. */
  async #sharedMiss(
    key: CacheKey,
    encoded: readonly unknown[],
    load: RowLoader,
    tier: RedisTier,
    flight: Flight<Row | undefined>,
  ): Promise<Row | undefined> {
    try {
      const epoch = this.#context.epoch;
      const coherent = this.#context.coherent;
      const startedAt = performance.now();
      const shared = await tier.read<Row>(this.table, key);
      if (shared?.hit) {
        const value = shared.value === ABSENT ? ABSENT : freezeDeep(shared.value);
        this.#store(key, value, flight.stale, epoch, startedAt, coherent, performance.now());
        return value === ABSENT ? undefined : value;
      }
      const token: FillToken | undefined = shared?.token;
      const loadedAt = performance.now();
      const row = await load(encoded);
      const ended = performance.now();
      this.counters.loads++;
      this.#context.recordLoad(ended - loadedAt);
      const value: Cached<Row> = row === undefined ? ABSENT : freezeDeep(row);
      if (this.#store(key, value, flight.stale, epoch, startedAt, coherent, ended) && token) {
        tier.fill(this.table, key, value, token, value === ABSENT ? this.policy.negativeTtlMs : this.policy.ttlMs);
      }
      return row;
    } finally {
      this.#flights.settle(key, flight);
    }
  }

  /** A database load that had to wait (an asynchronous driver, or a lock): later misses join it. */
  async #awaitLoad(
    key: CacheKey,
    loading: Promise<Row | undefined>,
    epoch: number,
    startedAt: number,
    coherent: boolean,
    flight: Flight<Row | undefined>,
  ): Promise<Row | undefined> {
    try {
      const row = await loading;
      return this.#loaded(key, row, epoch, startedAt, coherent, flight.stale);
    } finally {
      this.#flights.settle(key, flight);
    }
  }

  /** Counts and times a load that began at `startedAt`, then stores what it read unless overtaken. */
  #loaded(key: CacheKey, row: Row | undefined, epoch: number, startedAt: number, coherent: boolean, stale: boolean): Row | undefined {
    const ended = performance.now();
    this.counters.loads++;
    this.#context.recordLoad(ended - startedAt);
    if (row === undefined) {
      this.#store(key, ABSENT, stale, epoch, startedAt, coherent, ended);
      return undefined;
    }
    this.#store(key, freezeDeep(row), stale, epoch, startedAt, coherent, ended);
    return row;
  }

  /** Stores a loaded value unless a commit or a flush overtook its load; `now` is when it was read. */
  #store(key: CacheKey, value: Cached<Row>, stale: boolean, epoch: number, startedAt: number, coherent: boolean, now: number): boolean {
    if (stale || epoch !== this.#context.epoch) {
      this.counters.staleDrops++;
      return false;
    }
    const ttl = value === ABSENT ? this.policy.negativeTtlMs : this.policy.ttlMs;
    this.#rows.set(key, value, this.#context.ttlCap(ttl, startedAt, coherent), now);
    return true;
  }

  async #timedLoad<T>(load: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.counters.loads++;
    try {
      return await load();
    } finally {
      this.#context.recordLoad(performance.now() - started);
    }
  }
}
