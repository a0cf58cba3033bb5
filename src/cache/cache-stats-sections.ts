import { type CacheStats, tierStats } from './cache-stats.js';
import type { DerivedCache } from './derived-cache.js';
import type { RedisTier } from './redis-tier.js';
import type { TableCache } from './table-cache.js';

/** The row tier's part of db.stats().cache: L1 and query totals over every cached table, and each table's own. */
export function rowStats(
  tables: ReadonlyMap<string, TableCache>,
): Pick<CacheStats, 'l1' | 'queries' | 'staleDrops' | 'invalidations' | 'tables'> {
  let hits = 0;
  let misses = 0;
  let queryHits = 0;
  let queryMisses = 0;
  let entries = 0;
  let bytes = 0;
  let staleDrops = 0;
  let invalidations = 0;
  const perTable: CacheStats['tables'] = {};
  for (const [name, table] of tables) {
    const c = table.counters;
    hits += c.hits;
    misses += c.misses;
    queryHits += c.queryHits;
    queryMisses += c.queryMisses;
    staleDrops += c.staleDrops;
    invalidations += c.invalidations;
    entries += table.entries;
    bytes += table.bytes;
    perTable[name] = {
      hits: c.hits,
      misses: c.misses,
      entries: table.entries,
      loads: c.loads,
      queryHits: c.queryHits,
      queryMisses: c.queryMisses,
    };
  }
  return {
    l1: { ...tierStats(hits, misses), entries, bytes },
    queries: tierStats(queryHits, queryMisses),
    staleDrops,
    invalidations,
    tables: perTable,
  };
}

/** The Redis tier's part: its state and counters, zeros and 'down' when no Redis URL was given. */
export function redisStats(tier: RedisTier | undefined, anyL2: boolean): CacheStats['l2'] {
  const t = tier?.counters;
  return {
    ...tierStats(t?.hits ?? 0, t?.misses ?? 0),
    enabled: tier !== undefined && anyL2,
    configured: tier !== undefined,
    state: tier?.state ?? 'down',
    trusted: tier?.trusted ?? false,
    connected: tier?.connected ?? false,
    listening: tier?.listening ?? false,
    echoRttMs: tier?.echoRttMs === undefined ? null : Math.round(tier.echoRttMs * 1000) / 1000,
    lastError: tier?.lastError ?? null,
    inFlight: tier?.inFlight ?? 0,
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
  };
}

/** The derived values' part (getOrSet): grace hits count as hits in its hit ratio. */
export function derivedStats(derived: DerivedCache): CacheStats['derived'] {
  const d = derived.counters;
  return {
    ...tierStats(d.hits + d.graceHits, d.misses),
    entries: derived.size,
    graceHits: d.graceHits,
    loads: d.loads,
    loadFailures: d.loadFailures,
    staleDrops: d.staleDrops,
    invalidations: d.invalidations,
  };
}
