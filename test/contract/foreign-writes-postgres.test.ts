import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type Database, defineTable } from '../../src/index.js';
import { postgresSchema } from '../dialect/postgres/support/postgres-schema.js';
import { redisPrefix } from '../support/redis-prefix.js';
import { postgresAvailable, postgresUrl, redisAvailable, redisUrl } from '../support/services.js';

/*
 * A foreign writer on PostgreSQL (a plain client, as psql or a Python service would be) updates
 * rows that two instances hold in L1 and L2 with a TTL far past the stale bound. The NOTIFY
 * triggers carry the changed keys, so each instance drops them: a cached get sees the new value
 * within the bound (stale reads past the bound: 0). With the listener cut, the caches fall back to
 * the bound alone and say so.
 */

const STALE_BOUND_MS = 1000;
const prices = defineTable('prices', {
  columns: { id: 'integer', v: 'integer' },
  primaryKey: 'id',
  cache: { ttlMs: 600_000, maxEntries: 1000, l2: true },
});

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const end = performance.now() + timeoutMs; performance.now() < end; ) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/** Foreign updates of one row each; how long until both instances' cached get shows them. */
async function rounds(foreign: pg.Client, dbs: readonly Database[], count: number, first: number) {
  const seenMs: number[] = [];
  let stalePastBound = 0;
  for (let i = 0; i < count; i++) {
    const id = i % 10;
    const v = first + i;
    // Both instances hold the row (L1, and L2 behind it) before it changes.
    for (const db of dbs) await db.table(prices).get(id);
    await foreign.query('update prices set v = $1 where id = $2', [v, id]);
    const committed = performance.now();
    for (const db of dbs) {
      const seen = await until(async () => (await db.table(prices).get(id))?.v === v, STALE_BOUND_MS * 3);
      const ms = performance.now() - committed;
      if (!seen || ms > STALE_BOUND_MS) stalePastBound++;
      seenMs.push(ms);
    }
  }
  seenMs.sort((a, b) => a - b);
  return { stalePastBound, p50: percentile(seenMs, 0.5), max: seenMs[seenMs.length - 1] ?? 0 };
}

describe('foreign writers on PostgreSQL reach every instance cache', () => {
  it('a plain client UPDATE is seen by cached gets in two instances within the stale bound, listener up or cut', async (context) => {
    if (!(await postgresAvailable()) || !(await redisAvailable())) return context.skip();
    const schema = postgresSchema('foreign_cache');
    const keyPrefix = redisPrefix('foreign-cache');
    const options = { tables: [prices], cache: { redisUrl, keyPrefix, staleBoundMs: STALE_BOUND_MS } };
    const a = await schema.open(options);
    await a.migrate();
    const b = await schema.open(options);
    for (let id = 0; id < 10; id++) await a.table(prices).insert({ id, v: 0 });
    const foreign = new pg.Client({ connectionString: postgresUrl });
    await foreign.connect();
    try {
      await foreign.query(`set search_path = "${schema.name}"`);
      expect(await until(() => a.stats().cache.foreignWrites === 'notified' && b.stats().cache.foreignWrites === 'notified', 10_000)).toBe(
        true,
      );
      const notified = await rounds(foreign, [a, b], 60, 1000);
      const hits = a.stats().cache.l1.hits + b.stats().cache.l1.hits;
      console.log(
        `foreign writes, listener up: 120 reads after 60 UPDATEs, stale past ${STALE_BOUND_MS} ms ${notified.stalePastBound}, seen p50 ${notified.p50.toFixed(1)} ms max ${notified.max.toFixed(1)} ms, L1 hits ${hits}, foreign invalidations ${a.stats().cache.foreignInvalidations + b.stats().cache.foreignInvalidations}`,
      );

      // The listener cut: the caches drop everything, trust entries only within the bound, and say so.
      await foreign.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()`,
        [`sluice listener ${schema.name}`],
      );
      const degraded = await until(() => a.stats().cache.foreignWrites === 'bound-only', 2000);
      const cut = await rounds(foreign, [a, b], 10, 5000);
      console.log(
        `foreign writes, listener cut: status bound-only seen ${degraded}, stale past bound ${cut.stalePastBound}, seen p50 ${cut.p50.toFixed(1)} ms max ${cut.max.toFixed(1)} ms`,
      );
      expect({ stale: notified.stalePastBound + cut.stalePastBound, degraded }).toEqual({ stale: 0, degraded: true });
      expect(hits).toBeGreaterThan(0);
    } finally {
      await foreign.end();
    }
  }, 120_000);
});
