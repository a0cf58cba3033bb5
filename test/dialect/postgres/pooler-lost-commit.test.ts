import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { pgbouncerSupported, throwawayPgBouncer } from '../../support/throwaway-pgbouncer.js';
import { type ThrowawayPostgres, throwawayPostgres, throwawayPostgresSupported } from '../../support/throwaway-postgres.js';
import { events, sleep } from './support/write-load.js';

/*
 * A COMMIT whose reply is lost, behind PgBouncer in transaction mode. The batch's marker row
 * settles it as on a direct connection (postgres-commit.ts); what differs is the server process:
 * the pid a client learns at startup is PgBouncer's own number, so the backend to end while the
 * lost transaction still runs must be the one the server named inside that transaction.
 */

/** Seconds a COMMIT sleeps in a deferred trigger: far longer than a write may wait. */
const STUCK_COMMIT_S = 60;

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

/** A deferred trigger that makes the COMMIT of a 'slow' row sleep, the first `times` times only. */
function sleepAtCommit(schema: string, seconds: number, times: number): string {
  return `create sequence "${schema}".slow_commits;
    create function "${schema}".sleep_at_commit() returns trigger language plpgsql as $$
      begin
        if new.body = 'slow' and nextval('"${schema}".slow_commits') <= ${times} then perform pg_sleep(${seconds}); end if;
        return null;
      end $$;
    create constraint trigger sleep_at_commit after insert on "${schema}".events
      deferrable initially deferred for each row execute function "${schema}".sleep_at_commit();`;
}

const supported = throwawayPostgresSupported() && pgbouncerSupported();

describe.skipIf(!supported)('a lost COMMIT behind PgBouncer in transaction mode', () => {
  const cluster = throwawayPostgres();
  const bouncer = throwawayPgBouncer(async () => ({ serverPort: (await cluster.get()).port }));

  it('ends the lost transaction by its real server process when the pooler itself crashed', async () => {
    const server = await cluster.get();
    const through = await bouncer.get();
    const db = await open({ url: `${through.url()}?schema=pooler_crash`, tables: [events], postgres: { pooler: 'transaction' } });
    try {
      await db.migrate();
      await query(server, sleepAtCommit('pooler_crash', STUCK_COMMIT_S, 1));
      const t = db.table(events);
      const started = performance.now();
      const write = t.insert({ id: 1, producer: 0, body: 'slow', at: new Date() }, { timeoutMs: 10_000 }).then(
        () => 'acknowledged',
        (error: { code?: string; message?: string }) => `${error.code}: ${error.message}`,
      );
      expect(await commitSleeping(server, 5000)).toBe(true);
      // The client's connection and PgBouncer's to the server are cut; the server's COMMIT sleeps on.
      await through.kill9();
      await through.start();
      const outcome = await write;
      const seconds = (performance.now() - started) / 1000;
      const stored = await query(server, 'select count(*)::int as n from pooler_crash.events where id = 1');
      const sleeping = await query(server, "select count(*)::int as n from pg_stat_activity where wait_event = 'PgSleep'");
      const storage = db.stats().storage;
      console.info(
        `pooler crash during COMMIT: ${outcome} after ${seconds.toFixed(1)} s, rows ${stored.rows[0].n}, commitsLost ${storage.commitsLost}, still sleeping ${sleeping.rows[0].n}`,
      );
      expect(outcome).toBe('acknowledged');
      expect(stored.rows[0].n).toBe(1);
      expect(storage.commitsLost).toBe(1);
      // Settled by ending the lost transaction, not by waiting out its COMMIT.
      expect(sleeping.rows[0].n).toBe(0);
      expect(seconds).toBeLessThan(STUCK_COMMIT_S);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('acknowledges no write whose COMMIT a server crash cut short', async () => {
    const server = await cluster.get();
    const through = await bouncer.get();
    const rounds = 2;
    const db = await open({ url: `${through.url()}?schema=server_crash`, tables: [events], postgres: { pooler: 'transaction' } });
    try {
      await db.migrate();
      await query(server, sleepAtCommit('server_crash', 2, rounds));
      const t = db.table(events);
      const acknowledged: number[] = [];
      const failures: Record<string, number> = {};
      let crashedInCommit = 0;
      for (let round = 0; round < rounds; round++) {
        const base = (round + 1) * 1000;
        const writes = Array.from({ length: 20 }, (_, i) =>
          t.insert({ id: base + i, producer: round, body: i === 0 ? 'slow' : 'fast', at: new Date() }, { timeoutMs: 30_000 }).then(
            () => void acknowledged.push(base + i),
            (error: { code?: string }) => {
              failures[error.code ?? 'unknown'] = (failures[error.code ?? 'unknown'] ?? 0) + 1;
            },
          ),
        );
        if (await commitSleeping(server, 5000)) {
          crashedInCommit++;
          await server.immediateRestart();
        }
        await Promise.all(writes);
      }
      const present = await query(server, 'select id from server_crash.events where id = any($1::bigint[])', [acknowledged]);
      const storage = db.stats().storage;
      console.info(
        `server crash during COMMIT behind the pooler: ${crashedInCommit} crashes, ${acknowledged.length} acknowledged, ${acknowledged.length - present.rows.length} acknowledged but absent, failures ${JSON.stringify(failures)}, commitsLost ${storage.commitsLost}`,
      );
      expect(crashedInCommit).toBe(rounds);
      expect(acknowledged.length - present.rows.length).toBe(0);
      expect(storage.commitsLost).toBeGreaterThanOrEqual(rounds);
      expect(acknowledged).toHaveLength(rounds * 20);
    } finally {
      await db.close();
    }
  }, 60_000);
});
