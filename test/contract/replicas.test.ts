import { describe, expect, it } from 'vitest';
import { type Database, defineTable } from '../../src/index.js';
import { postgresSchema } from '../dialect/postgres/support/postgres-schema.js';
import { type ThrowawayPostgres, throwawayPostgresSupported, throwawayPostgresWithReplica } from '../support/throwaway-postgres.js';

/*
 * Read replicas keep read-your-writes: a primary and a streaming replica of this file's own
 * (pg_basebackup -R), two instances each writing a counter and reading it straight back. A read
 * that returns an older value than the instance's own acknowledged write is stale; every count
 * asserted here is zero.
 */

const counters = defineTable('counters', { columns: { id: 'integer', n: 'integer' }, primaryKey: 'id' });
const cachedCounters = defineTable('cached_counters', {
  columns: { id: 'integer', n: 'integer' },
  primaryKey: 'id',
  cache: { ttlMs: 600_000, maxEntries: 100 },
});

interface Tally {
  rounds: number;
  stale: number;
  failed: number;
}

/** Write-then-read rounds on the instance's own row until `rounds` or `until` says stop. */
async function rounds(db: Database, id: number, count: number, tally: Tally, start = 0): Promise<number> {
  const table = db.table(counters);
  let n = start;
  for (let i = 0; i < count; i++) {
    n++;
    await table.upsert({ id, n });
    tally.rounds++;
    try {
      const row = await table.get(id);
      if (row === undefined || row.n < n) tally.stale++;
    } catch {
      tally.failed++;
    }
  }
  return n;
}

function routing(db: Database): { primary: number; replica: number; fallbacks: number; lagMs: number } {
  const s = db.stats().storage;
  return {
    primary: Number(s.readsPrimary ?? 0),
    replica: Number(s.readsReplica ?? 0),
    fallbacks: Number(s.replicaFallbacks ?? 0),
    lagMs: Number(s.replicaLagMs ?? 0),
  };
}

function delta(after: ReturnType<typeof routing>, before: ReturnType<typeof routing>) {
  return {
    primary: after.primary - before.primary,
    replica: after.replica - before.replica,
    fallbacks: after.fallbacks - before.fallbacks,
  };
}

async function waitCaughtUp(primary: ThrowawayPostgres, replica: ThrowawayPostgres): Promise<void> {
  const lsn = await primary.withClient(async (c) => (await c.query('select pg_current_wal_lsn()::text as l')).rows[0].l as string);
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    const done = await replica
      .withClient(async (c) => (await c.query('select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [lsn])).rows[0].ok === true)
      .catch(() => false);
    if (done) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the replica did not catch up in 30 s');
}

describe.skipIf(!throwawayPostgresSupported())('read replicas', () => {
  const servers = throwawayPostgresWithReplica();

  it('reads own writes from a replica, falls back when it pauses replay or stops, and never serves a stale read', async () => {
    const { primary, replica } = await servers.get();
    const schema = postgresSchema('replicas', primary.url);
    const options = { tables: [counters], postgres: { replicas: [replica.url], maxReplicaLagMs: 2000 } };
    const a = await schema.open(options);
    await a.migrate();
    const b = await schema.open(options);
    await waitCaughtUp(primary, replica);
    const ROUNDS = 1500;

    // 1. Both instances at once, the replica streaming.
    const normal: Tally = { rounds: 0, stale: 0, failed: 0 };
    const [beforeA, beforeB] = [routing(a), routing(b)];
    const [na, nb] = await Promise.all([rounds(a, 1, ROUNDS, normal), rounds(b, 2, ROUNDS, normal)]);
    const streaming = { a: delta(routing(a), beforeA), b: delta(routing(b), beforeB) };
    const share = (streaming.a.replica + streaming.b.replica) / (normal.rounds || 1);
    console.log(
      `replicas, streaming: ${normal.rounds} rounds, stale ${normal.stale}, failed ${normal.failed}, replica share ${(share * 100).toFixed(1)}%, routing ${JSON.stringify(streaming)}`,
    );

    // 2. Replay paused: the replica cannot hold our next writes, so reads go to the primary.
    await replica.withClient(async (c) => {
      await c.query('select pg_wal_replay_pause()');
      // A pause is a request: replay stops at the next record boundary.
      while ((await c.query('select pg_get_wal_replay_pause_state() as s')).rows[0].s !== 'paused')
        await new Promise((r) => setTimeout(r, 10));
    });
    const paused: Tally = { rounds: 0, stale: 0, failed: 0 };
    const [pa, pb] = [routing(a), routing(b)];
    const [na2, nb2] = await Promise.all([rounds(a, 1, ROUNDS / 4, paused, na), rounds(b, 2, ROUNDS / 4, paused, nb)]);
    const whilePaused = { a: delta(routing(a), pa), b: delta(routing(b), pb) };
    await replica.withClient((c) => c.query('select pg_wal_replay_resume()'));
    console.log(`replicas, replay paused: ${paused.rounds} rounds, stale ${paused.stale}, routing ${JSON.stringify(whilePaused)}`);

    // 3. The replica stopped mid-run: the primary answers, no read fails.
    const stopped: Tally = { rounds: 0, stale: 0, failed: 0 };
    const [sa, sb] = [routing(a), routing(b)];
    await waitCaughtUp(primary, replica);
    const run = Promise.all([rounds(a, 1, ROUNDS / 2, stopped, na2), rounds(b, 2, ROUNDS / 2, stopped, nb2)]);
    await new Promise((r) => setTimeout(r, 300));
    await replica.stop();
    await run;
    const whileStopped = { a: delta(routing(a), sa), b: delta(routing(b), sb) };
    console.log(
      `replicas, replica stopped mid-run: ${stopped.rounds} rounds, stale ${stopped.stale}, failed ${stopped.failed}, routing ${JSON.stringify(whileStopped)}`,
    );
    await replica.start();

    expect({
      stale: normal.stale + paused.stale + stopped.stale,
      failed: normal.failed + paused.failed + stopped.failed,
      replicaReadsWhilePaused: whilePaused.a.replica + whilePaused.b.replica,
    }).toEqual({ stale: 0, failed: 0, replicaReadsWhilePaused: 0 });
    expect(share).toBeGreaterThan(0);
    expect(whileStopped.a.primary + whileStopped.b.primary).toBeGreaterThan(0);
  }, 120_000);

  it('refills a cache after a foreign write from a replica only once it holds that write', async () => {
    const { primary, replica } = await servers.get();
    const schema = postgresSchema('replica_cache', primary.url);
    // A lag bound far past the test, so the paused replica is never skipped for lagging: only its position keeps reads off it.
    const options = { tables: [cachedCounters], postgres: { replicas: [replica.url], maxReplicaLagMs: 600_000 } };
    const a = await schema.open(options);
    await a.migrate();
    const b = await schema.open(options);
    for (let id = 0; id < 5; id++) await a.table(cachedCounters).insert({ id, n: 0 });
    await waitCaughtUp(primary, replica);
    for (const db of [a, b]) {
      for (let until = Date.now() + 10_000; db.stats().cache.foreignWrites !== 'notified' && Date.now() < until; )
        await new Promise((r) => setTimeout(r, 10));
    }
    let stalePastBound = 0;
    await replica.withClient((c) => c.query('select pg_wal_replay_pause()'));
    try {
      for (let round = 1; round <= 20; round++) {
        const id = round % 5;
        for (const db of [a, b]) await db.table(cachedCounters).get(id);
        await primary.withClient((c) => c.query(`update "${schema.name}".cached_counters set n = $1 where id = $2`, [round, id]));
        const committed = Date.now();
        for (const db of [a, b]) {
          let row = await db.table(cachedCounters).get(id);
          while (row?.n !== round && Date.now() - committed < 1500) {
            await new Promise((r) => setTimeout(r, 5));
            row = await db.table(cachedCounters).get(id);
          }
          if (row?.n !== round) stalePastBound++;
        }
      }
    } finally {
      await replica.withClient((c) => c.query('select pg_wal_replay_resume()'));
    }
    console.log(
      `replicas + cache, replay paused, 20 foreign updates: stale past the bound ${stalePastBound}, routing ${JSON.stringify(routing(a))}`,
    );
    expect(stalePastBound).toBe(0);
  }, 60_000);
});
