import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Dialect } from '../dialect/dialect.js';
import type { CommittedChange } from '../dialect/write-op.js';
import type { TableCachePolicy } from '../schema/cache-policy.js';
import type { AnyTableDef } from '../schema/define-table.js';
import { type CacheKey, cacheKey } from './cache-key.js';
import { CacheMetrics } from './cache-metrics.js';
import type { ResolvedCacheOptions } from './cache-options.js';
import { type CacheStats, tierStats } from './cache-stats.js';
import { DataVersionWatch, dataVersionSource } from './data-version-watch.js';
import { RedisTier, type RemoteInvalidation } from './redis-tier.js';
import { type CacheContext, TableCache } from './table-cache.js';

export interface SluiceCacheSetup {
  readonly options: ResolvedCacheOptions;
  readonly tables: readonly AnyTableDef[];
  /** The dialect, asked by capability for a data_version source (SQLite) or nothing (PostgreSQL). */
  readonly dialect: Pick<Dialect, 'capabilities' | 'dataVersion'>;
  readonly registry: Registry;
}

/**
 * The cache of one Database: a TableCache per table with a policy, the commit feed that
 * invalidates them before a batch's promises settle, the data_version watch that notices other
 * connections' commits, and the optional Redis tier shared with other processes and instances.
 */
export class SluiceCache implements CacheContext {
  readonly #options: ResolvedCacheOptions;
  readonly #tables = new Map<string, TableCache>();
  readonly #watch: DataVersionWatch | undefined;
  readonly #tier: RedisTier | undefined;
  readonly #metrics: CacheMetrics;
  readonly #anyL2: boolean;
  /** data_version covers every other writer of the file, or the database is private to us. */
  readonly #watched: boolean;
  #epoch = 0;
  #foreignFlushes = 0;

  constructor(setup: SluiceCacheSetup) {
    this.#options = setup.options;
    for (const table of setup.tables) {
      const policy: TableCachePolicy | undefined = table.cache;
      if (policy) this.#tables.set(table.name, new TableCache(table.name, policy, this, setup.options.queryMaxEntries));
    }
    this.#anyL2 = [...this.#tables.values()].some((t) => t.policy.l2);
    this.#metrics = new CacheMetrics(setup.registry, () => this.stats());
    if (this.#tables.size > 0) {
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
          { onRemote: (list) => this.#applyRemote(list), onResync: () => this.#flush() },
        );
      }
    }
    // A process-private database has no other writers to hear about.
    this.#watched = this.#watch !== undefined || setup.dialect.capabilities.processPrivate;
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

  get coherent(): boolean {
    return this.#watched || this.#tier?.trusted === true;
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

  /** The gate's change feed: runs after COMMIT, before the batch's promises settle. */
  readonly onCommit = (changes: readonly CommittedChange[]): void => {
    if (this.#tables.size === 0) return;
    const byTable = new Map<string, CacheKey[]>();
    for (const change of changes) {
      if (!this.#tables.has(change.table)) continue;
      const keys = byTable.get(change.table);
      if (keys) keys.push(cacheKey(change.encodedKey));
      else byTable.set(change.table, [cacheKey(change.encodedKey)]);
    }
    if (byTable.size === 0) return;
    for (const [table, keys] of byTable) this.#tables.get(table)?.invalidate(keys);
    this.#tier?.invalidate([...byTable].map(([table, keys]) => ({ table, keys, l2: this.#tables.get(table)?.policy.l2 === true })));
  };

  stats(): CacheStats {
    let hits = 0;
    let misses = 0;
    let queryHits = 0;
    let queryMisses = 0;
    let entries = 0;
    let bytes = 0;
    let staleDrops = 0;
    let invalidations = 0;
    const tables: CacheStats['tables'] = {};
    for (const [name, table] of this.#tables) {
      const c = table.counters;
      hits += c.hits;
      misses += c.misses;
      queryHits += c.queryHits;
      queryMisses += c.queryMisses;
      staleDrops += c.staleDrops;
      invalidations += c.invalidations;
      entries += table.entries;
      bytes += table.bytes;
      tables[name] = {
        hits: c.hits,
        misses: c.misses,
        entries: table.entries,
        loads: c.loads,
        queryHits: c.queryHits,
        queryMisses: c.queryMisses,
      };
    }
    const t = this.#tier?.counters;
    const load = this.#metrics.loadLatency.summary();
    return {
      l1: { ...tierStats(hits, misses), entries, bytes },
      l2: {
        ...tierStats(t?.hits ?? 0, t?.misses ?? 0),
        enabled: this.#tier !== undefined && this.#anyL2,
        state: this.#tier?.state ?? 'down',
        trusted: this.#tier?.trusted ?? false,
        connected: this.#tier?.connected ?? false,
        listening: this.#tier?.listening ?? false,
        echoRttMs: this.#tier?.echoRttMs === undefined ? null : Math.round(this.#tier.echoRttMs * 1000) / 1000,
        lastError: this.#tier?.lastError ?? null,
        inFlight: this.#tier?.inFlight ?? 0,
        fallbacks: t?.fallbacks ?? 0,
        skipped: t?.skipped ?? 0,
        fills: t?.fills ?? 0,
        fillsRejected: t?.fillsRejected ?? 0,
        invalidationFailures: t?.invalidationFailures ?? 0,
        epochBumps: t?.epochBumps ?? 0,
        remoteMessages: t?.remoteMessages ?? 0,
        resyncs: t?.resyncs ?? 0,
        keepalives: t?.keepalives ?? 0,
        echoes: t?.echoes ?? 0,
      },
      queries: tierStats(queryHits, queryMisses),
      loads: { count: load.count, ms: load },
      staleDrops,
      invalidations,
      foreignFlushes: this.#foreignFlushes,
      dataVersionChecks: this.#watch?.checks ?? 0,
      staleBoundMs: this.#options.staleBoundMs,
      tables,
    };
  }

  async close(): Promise<void> {
    await this.#tier?.close();
    for (const table of this.#tables.values()) table.clear();
  }

  #foreignCommit(): void {
    this.#foreignFlushes++;
    this.#flush();
    // Rows a foreign writer changed may sit in Redis too, and we cannot name them.
    if (this.#anyL2) this.#tier?.bumpEpoch();
  }

  #flush(): void {
    this.#epoch++;
    for (const table of this.#tables.values()) table.clear();
  }

  #applyRemote(list: readonly RemoteInvalidation[]): void {
    for (const item of list) {
      if ('all' in item) this.#flush();
      else this.#tables.get(item.table)?.invalidate(item.keys);
    }
  }
}
