import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Dialect } from '../dialect/dialect.js';
import type { CommittedChange } from '../dialect/write-op.js';
import type { TableCachePolicy } from '../schema/cache-policy.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { type CacheKey, cacheKey } from './cache-key.js';
import { CacheMetrics } from './cache-metrics.js';
import type { ResolvedCacheOptions } from './cache-options.js';
import type { CacheStats } from './cache-stats.js';
import { derivedStats, redisStats, rowStats } from './cache-stats-sections.js';
import { DataVersionWatch, dataVersionSource } from './data-version-watch.js';
import { DerivedCache, type DerivedCacheApi, type GetOrSetOptions } from './derived-cache.js';
import { RedisTier, type RedisTierState, type RemoteInvalidation } from './redis-tier.js';
import { type CacheContext, TableCache } from './table-cache.js';

export interface SluiceCacheSetup {
  readonly options: ResolvedCacheOptions;
  readonly tables: readonly AnyTableDef[];
  /** The dialect, asked by capability for a data_version source (SQLite) or foreign-change notifications (PostgreSQL). */
  readonly dialect: Pick<Dialect, 'adapter' | 'dataVersion' | 'onForeignChange' | 'foreignChangesLive'>;
  readonly registry: Registry;
  /** Told when the Redis tier's state changes (for the log). */
  readonly onTierState?: (state: RedisTierState, lastError: string | undefined) => void;
}

/**
 * The cache of one Database: a TableCache per table with a policy, the commit feed that
 * invalidates them before a batch's promises settle, the data_version watch that notices other
 * connections' commits, and the optional Redis tier shared with other processes and instances.
 */
export class SluiceCache implements CacheContext, DerivedCacheApi {
  readonly #options: ResolvedCacheOptions;
  readonly #derived: DerivedCache;
  readonly #tables = new Map<string, TableCache>();
  readonly #watch: DataVersionWatch | undefined;
  readonly #tier: RedisTier | undefined;
  readonly #metrics: CacheMetrics;
  readonly #anyL2: boolean;
  /** data_version covers every other writer of the file, or the database is private to us. */
  readonly #watched: boolean;
  #epoch = 0;
  #foreignFlushes = 0;
  #foreignInvalidations = 0;
  /** While PostgreSQL's LISTEN connection is up, other clients' commits to cached tables are heard with their keys. */
  readonly #notified: (() => boolean) | undefined;
  readonly #unlisten: (() => void) | undefined;

  constructor(setup: SluiceCacheSetup) {
    this.#options = setup.options;
    for (const table of setup.tables) {
      const policy: TableCachePolicy | undefined = table.cache;
      if (policy) this.#tables.set(table.name, new TableCache(table.name, policy, this, setup.options.queryMaxEntries));
    }
    this.#anyL2 = [...this.#tables.values()].some((t) => t.policy.l2);
    this.#derived = new DerivedCache(this, setup.options.derivedMaxEntries);
    this.#metrics = new CacheMetrics(setup.registry, () => this.stats());
    // Derived values (getOrSet) may depend on any table, so the watch and the channel run even
    // when no table has a row cache.
    const source = dataVersionSource(setup.dialect);
    if (source) this.#watch = new DataVersionWatch(source, Math.max(1, setup.options.staleBoundMs / 2), () => this.#foreignCommit());
    if (setup.options.redisUrl) {
      this.#tier = new RedisTier(
        {
          url: setup.options.redisUrl,
          keyPrefix: setup.options.keyPrefix,
          timeoutMs: setup.options.redisTimeoutMs,
          retryMs: setup.options.redisRetryMs,
          maxInFlight: setup.options.redisMaxInFlight,
          instanceId: randomUUID(),
          staleBoundMs: setup.options.staleBoundMs,
        },
        {
          onRemote: (list) => this.#applyRemote(list),
          onResync: () => this.#flush(),
          ...(setup.onTierState === undefined ? {} : { onState: setup.onTierState }),
        },
      );
    }
    // A process-private database has no other writers to hear about.
    this.#watched = this.#watch !== undefined || setup.dialect.adapter.capabilities.processPrivate;
    const listen = setup.dialect.onForeignChange;
    const live = setup.dialect.foreignChangesLive;
    if (!this.#watched && listen && live && (this.#tables.size > 0 || this.#tier !== undefined)) {
      this.#unlisten = listen.call(setup.dialect, (table, keys) => this.#foreignChange(table, keys));
      this.#notified = live.bind(setup.dialect);
    }
  }

  get epoch(): number {
    return this.#epoch;
  }

  get tier(): RedisTier | undefined {
    return this.#tier;
  }

  /** The cache of a table, or undefined when its definition has no cache policy. */
  table(name: string): TableCache | undefined {
    return this.#tables.get(name);
  }

  beforeRead(): number {
    const now = this.#watch ? this.#watch.maybeCheck() : -1;
    this.#tier?.checkTrust();
    return now;
  }

  /**
   * Entries may live their TTL: every commit that could change them reaches us. Where the
   * database notifies other clients' commits (PostgreSQL), that holds only while the listener is
   * up, Redis or not (the notifications cover other instances too); when it is down or absent
   * (behind a pooler) the Redis channel would cover other instances only, not psql or another
   * service, so entries are bounded by staleBoundMs.
   */
  get coherent(): boolean {
    return this.#watched || this.#notified?.() === true;
  }

  ttlCap(ttlMs: number, startedAt: number, coherentAtStart: boolean): number {
    // While other instances' commits may not reach us (no data_version, no channel, or a channel
    // not proven to deliver), an entry lives at most the stale bound from the start of its load.
    if (coherentAtStart && this.coherent) return ttlMs;
    return Math.min(ttlMs, Math.floor(this.#options.staleBoundMs - (performance.now() - startedAt)));
  }

  /**
   * Waits until the shared tier is trusted or Redis has refused a connection; without Redis the
   * cache works on, untrusted (L1 entries bounded, L2 unread). A write made before our first
   * connection cannot tell instances already trusting the channel; it reaches them (an epoch
   * bump and a flush) only once we connect, so a slow first connect is waited for, within reason.
   */
  ready(timeoutMs = Math.min(5000, Math.max(1000, this.#options.staleBoundMs * 2))): Promise<void> {
    return this.#tier?.ready(timeoutMs) ?? Promise.resolve();
  }

  recordLoad(ms: number): void {
    this.#metrics.recordLoad(ms);
  }

  /**
   * The gate's change feed: runs after COMMIT, before the batch's promises settle. Cached rows of
   * the changed keys go, derived values computed from a changed table go, and other instances
   * are told: keys of tables with a row cache, the bare name of every other table (their derived
   * values may depend on it; the name costs bytes in the one message a batch sends, not a message).
   */
  readonly onCommit = (changes: readonly CommittedChange[]): void => {
    const tier = this.#tier;
    if (this.#tables.size === 0 && tier === undefined && !this.#derived.active) return;
    const byTable = new Map<string, CacheKey[]>();
    let last: string | undefined;
    let lastKeys: CacheKey[] | undefined;
    for (const change of changes) {
      const table = change.table;
      if (table !== last) {
        last = table;
        lastKeys = byTable.get(table);
        if (lastKeys === undefined) {
          lastKeys = [];
          byTable.set(table, lastKeys);
        }
      }
      if (this.#tables.has(table)) (lastKeys as CacheKey[]).push(cacheKey(change.encodedKey));
    }
    for (const [table, keys] of byTable) {
      if (keys.length > 0) this.#tables.get(table)?.invalidate(keys);
      this.#derived.tableChanged(table);
    }
    tier?.invalidate([...byTable].map(([table, keys]) => ({ table, keys, l2: this.#tables.get(table)?.policy.l2 === true })));
  };

  getOrSet<V>(key: string, loader: () => V | Promise<V>, options: GetOrSetOptions): Promise<V> {
    return this.#derived.getOrSet(key, loader, options);
  }

  /**
   * Drops what is cached about `table` (one row's entry when `key` is given as the table's encoded
   * key, else every cached row and query of it) and every derived value depending on it, here
   * and, over the Redis channel, in other instances.
   */
  invalidate(table: { readonly name: string } | string, key?: unknown): void {
    const name = typeof table === 'string' ? table : table.name;
    const rows = this.#tables.get(name);
    const keys = key === undefined ? [] : [cacheKey(Array.isArray(key) ? key : [key])];
    if (rows) {
      if (key === undefined) rows.clear();
      else rows.invalidate(keys);
    }
    this.#derived.tableChanged(name);
    this.#tier?.invalidate([{ table: name, keys, l2: rows?.policy.l2 === true }]);
  }

  delete(key: string): void {
    this.#derived.delete(key);
  }

  stats(): CacheStats {
    const rows = rowStats(this.#tables);
    const load = this.#metrics.loadLatency.summary();
    return {
      l1: rows.l1,
      l2: redisStats(this.#tier, this.#anyL2),
      queries: rows.queries,
      derived: derivedStats(this.#derived),
      loads: { count: load.count, ms: load },
      staleDrops: rows.staleDrops,
      invalidations: rows.invalidations,
      foreignFlushes: this.#foreignFlushes,
      dataVersionChecks: this.#watch?.checks ?? 0,
      foreignWrites: this.#watch ? 'watched' : this.#watched ? 'private' : this.#notified?.() ? 'notified' : 'bound-only',
      foreignInvalidations: this.#foreignInvalidations,
      staleBoundMs: this.#options.staleBoundMs,
      tables: rows.tables,
    };
  }

  async close(): Promise<void> {
    this.#unlisten?.();
    await this.#tier?.close();
    for (const table of this.#tables.values()) table.clear();
  }

  #foreignCommit(): void {
    this.#foreignFlushes++;
    this.#flush();
    // Rows a foreign writer changed may sit in Redis too, and we cannot name them.
    if (this.#anyL2) this.#tier?.bumpEpoch();
  }

  /**
   * Another client's commit, notified by PostgreSQL: its keys leave L1 and L2 here (each instance
   * hears the notification itself). Without keys (a statement that changed many rows) the table's
   * entries go, and Redis's whole epoch, which cannot name a table; `'*'`: the listener was lost or
   * is back, and what changed meanwhile is unknown, so everything goes.
   */
  #foreignChange(table: string, keys: readonly (readonly unknown[])[] | undefined): void {
    if (table === '*') {
      this.#foreignCommit();
      return;
    }
    this.#foreignInvalidations++;
    const rows = this.#tables.get(table);
    this.#derived.tableChanged(table);
    if (!rows) return;
    if (keys === undefined) {
      rows.clear();
      if (rows.policy.l2) this.#tier?.bumpEpoch();
      return;
    }
    const list = keys.map(cacheKey);
    rows.invalidate(list);
    if (rows.policy.l2) this.#tier?.invalidate([{ table, keys: list, l2: true }]);
  }

  #flush(): void {
    this.#epoch++;
    for (const table of this.#tables.values()) table.clear();
    this.#derived.clear();
  }

  #applyRemote(list: readonly RemoteInvalidation[]): void {
    for (const item of list) {
      if ('all' in item) this.#flush();
      else {
        const rows = this.#tables.get(item.table);
        // A bare table name: an invalidate(table) of every row, or a commit to a table the sender does not row-cache.
        if (rows) {
          if (item.keys.length > 0) rows.invalidate(item.keys);
          else rows.clear();
        }
        this.#derived.tableChanged(item.table);
      }
    }
  }
}
