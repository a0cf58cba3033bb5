import pg from 'pg';
import { expect, it } from 'vitest';
import { describeWithThrowawayPostgres } from '../../support/postgres-suite.js';
import { type ThrowawayPostgres, throwawayPostgres } from '../../support/throwaway-postgres.js';
import { postgresSchema } from './support/postgres-schema.js';
import { events, sleep } from './support/write-load.js';

/*
 * A server crash in the middle of a COMMIT. A deferred constraint trigger sleeps at COMMIT so the
 * crash (an immediate stop) lands inside it; the transaction's WAL never became durable, so after
 * recovery the server hands its transaction id out again, and another client takes that id and
 * commits. A write acknowledged then must be in the table.
 */

const ROUNDS = Number(process.env.SLUICE_LOST_COMMIT_ROUNDS ?? 4);
const ROWS_PER_ROUND = 20;

async function query(server: ThrowawayPostgres, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  return server.withClient((c) => c.query(sql, params));
}

/** Waits until a backend sleeps in the trigger, i.e. a COMMIT is under way. */
async function commitSleeping(server: ThrowawayPostgres, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const { rows } = await query(server, "select count(*)::int as n from pg_stat_activity where wait_event = 'PgSleep'");
    if ((rows[0] as { n: number }).n > 0) return true;
    await sleep(10);
  }
  return false;
}

/**
 * Another client that takes transaction ids and commits as soon as the server is back, as a busy
 * server's other clients would. Each `select txid_current()` commits a transaction with an id.
 */
function consumeIds(server: ThrowawayPostgres, count: number): { done: Promise<number> } {
  const done = (async () => {
    const until = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database: 'postgres' });
      client.on('error', () => {});
      try {
        await client.connect();
        for (let i = 0; i < count; i++) await client.query('select txid_current()');
        return count;
      } catch {
        if (Date.now() > until) return 0;
        await sleep(5);
      } finally {
        await client.end().catch(() => {});
      }
    }
  })();
  return { done };
}

describeWithThrowawayPostgres('PostgreSQL crash during COMMIT', () => {
  const cluster = throwawayPostgres();

  it('acknowledges no write whose COMMIT a crash cut short, even when its transaction id is reused', async () => {
    const server = await cluster.get();
    const schema = postgresSchema('lost_commit', server.url);
    const db = await schema.open({ tables: [events] });
    await db.migrate();
    await query(
      server,
      `create function "${schema.name}".sleep_at_commit() returns trigger language plpgsql as $$
         begin if new.body = 'slow' then perform pg_sleep(2); end if; return null; end $$;
       create constraint trigger sleep_at_commit after insert on "${schema.name}".events
         deferrable initially deferred for each row execute function "${schema.name}".sleep_at_commit();`,
    );
    const t = db.table(events);
    const acknowledged: number[] = [];
    const failures: Record<string, number> = {};
    let crashedInCommit = 0;
    let idsTaken = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const base = (round + 1) * 1000;
      const writes = Array.from({ length: ROWS_PER_ROUND }, (_, i) =>
        t.insert({ id: base + i, producer: round, body: i === 0 ? 'slow' : 'fast', at: new Date() }, { timeoutMs: 30_000 }).then(
          () => void acknowledged.push(base + i),
          (error: { code?: string }) => {
            const code = error.code ?? 'unknown';
            failures[code] = (failures[code] ?? 0) + 1;
          },
        ),
      );
      if (await commitSleeping(server, 5000)) {
        crashedInCommit++;
        const stopped = server.immediateRestart();
        // Races Sluice's own reconnection, as the server's other clients do.
        const consumer = consumeIds(server, 200);
        await stopped;
        idsTaken += await consumer.done;
      }
      await Promise.all(writes);
    }
    await db.flush();
    const present = await query(server, `select id from "${schema.name}".events where id = any($1::bigint[])`, [acknowledged]);
    const absent = acknowledged.length - present.rows.length;
    const storage = db.stats().storage;
    console.log(
      `crash during COMMIT: ${crashedInCommit} crashes, ${idsTaken} ids taken by another client, ${acknowledged.length} acknowledged, ${absent} acknowledged but absent, failures ${JSON.stringify(failures)}, commitsLost ${storage.commitsLost}, foundCommitted ${storage.commitsFoundCommitted}, unknown ${storage.commitsUnknown}`,
    );
    expect(absent).toBe(0);
    expect(crashedInCommit).toBe(ROUNDS);
    expect(storage.commitsLost).toBeGreaterThanOrEqual(ROUNDS);
    expect(idsTaken).toBeGreaterThan(0);
    // The batch that the crash aborted was run again after recovery and committed.
    expect(acknowledged.length).toBe(ROUNDS * ROWS_PER_ROUND);
  }, 120_000);
});
