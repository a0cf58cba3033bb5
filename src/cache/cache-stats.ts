import type { LatencySummary } from '../core/latency-window.js';
import type { RedisTierCounters, RedisTierState } from './redis-tier.js';

export interface TierStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before the first read. */
  hitRatio: number;
}

/** db.stats().cache */
export interface CacheStats {
  l1: TierStats & { entries: number; bytes: number };
  l2: TierStats &
    Omit<RedisTierCounters, 'hits' | 'misses'> & {
      enabled: boolean;
      /** A Redis URL was given (redisUrl): the tier runs for derived values and invalidations even when no table reads through L2. */
      configured: boolean;
      /** 'trusted' only while a recent keepalive proves the channel delivers; 'down' when Redis is unreachable (degraded: reads go to the database). */
      state: RedisTierState;
      /** Other instances' invalidations are proven to reach us: L2 is read, L1 entries live their TTL. */
      trusted: boolean;
      connected: boolean;
      /** Subscribed to other instances' invalidations. */
      listening: boolean;
      /** Requests sent to Redis and not yet answered. */
      inFlight: number;
      /** Round trip of the last keepalive through the channel, ms; null before the first. */
      echoRttMs: number | null;
      lastError: string | null;
    };
  queries: TierStats;
  /** Derived values (getOrSet): grace hits count as hits in hitRatio. */
  derived: TierStats & {
    entries: number;
    graceHits: number;
    loads: number;
    loadFailures: number;
    staleDrops: number;
    invalidations: number;
  };
  loads: { count: number; ms: LatencySummary };
  /** Loaded values not cached because a commit or flush overtook the load. */
  staleDrops: number;
  /** Keys invalidated by commits (ours and other instances'). */
  invalidations: number;
  /** Whole-cache drops because data_version showed a commit by another connection. */
  foreignFlushes: number;
  dataVersionChecks: number;
  /**
   * How writes by other clients reach this cache: 'watched' (SQLite's data_version), 'notified'
   * (PostgreSQL NOTIFY with the changed keys, listener up), 'private' (none can exist), or
   * 'bound-only' (no listener, or behind a pooler: entries live at most staleBoundMs).
   */
  foreignWrites: 'watched' | 'notified' | 'private' | 'bound-only';
  /** Rows and tables dropped because another client's commit was notified (PostgreSQL). */
  foreignInvalidations: number;
  /** What the read path promises: a commit made elsewhere is seen within this bound. */
  staleBoundMs: number;
  tables: Record<string, { hits: number; misses: number; entries: number; loads: number; queryHits: number; queryMisses: number }>;
}

export function tierStats(hits: number, misses: number): TierStats {
  const total = hits + misses;
  return { hits, misses, hitRatio: total === 0 ? 0 : Math.round((hits / total) * 10_000) / 10_000 };
}
