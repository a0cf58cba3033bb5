import { z } from 'zod';

/** The open({ cache }) option: where the shared tier lives and how stale a read may be. */
export const cacheOptionsSchema = z
  .object({
    /**
     * redis://host:port of the shared tier and invalidation channel. Default: none (L1 only).
     * open() waits for the first connection up to twice staleBoundMs (1-5 s); an unreachable
     * Redis is not fatal: the cache starts untrusted and `stats().cache.l2.state` says 'down'.
     */
    redisUrl: z.string().min(1).optional(),
    /** Prefix of every Redis key and of the channel; give each database its own. Default 'sluice:'. */
    keyPrefix: z.string().min(1).default('sluice:'),
    /**
     * The longest a read may lag a commit made by another process or a foreign writer, whatever
     * Redis does. SQLite's data_version is checked at most every staleBoundMs / 2 on reads; a
     * keepalive goes through the Redis channel every staleBoundMs / 10 and must come back within
     * staleBoundMs / 2, else L2 is not read and L1 entries live at most this long. Default 1,000 ms.
     */
    staleBoundMs: z.number().int().min(10).max(60_000).default(1000),
    /** How long a read waits for Redis before it falls back to the database. Default 50 ms. */
    redisTimeoutMs: z.number().int().min(1).max(10_000).default(50),
    /** After a Redis failure, how long reads skip Redis before one probe tries it again. Default 1,000 ms. */
    redisRetryMs: z.number().int().min(10).default(1000),
    /** Redis commands allowed in flight; past it reads skip Redis instead of queueing. Default 256. */
    redisMaxInFlight: z.number().int().min(1).default(256),
    /** Cached find/count results kept per table. Default 1,000. */
    queryMaxEntries: z.number().int().min(1).default(1000),
    /** Derived values (db.cache.getOrSet) kept, least recently used first out. Default 10,000. */
    derivedMaxEntries: z.number().int().min(1).default(10_000),
  })
  .strict();

export type CacheOptions = z.input<typeof cacheOptionsSchema>;
export type ResolvedCacheOptions = z.output<typeof cacheOptionsSchema>;
