import { expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { describeWithThrowawayPostgres } from '../../support/postgres-suite.js';
import { throwawayPostgres } from '../../support/throwaway-postgres.js';
import { crashCounts, lossFigures, NOTHING_LOST, readLog } from './crash-check.js';
import { crashKv } from './crash-table.js';

/** 10 restarts in the default run; SLUICE_SOAK=1 makes it 40. */
const RESTARTS = process.env.SLUICE_SOAK === '1' ? 40 : 10;

describeWithThrowawayPostgres('sync across target restarts and killed connections', () => {
  const server = throwawayPostgres();
  const dir = tempDir('sluice-sync-restart-');

  it(`PostgreSQL restarted ${RESTARTS} times mid-shipping, its sync connection terminated between: nothing lost, older or invented`, async () => {
    const pg = await server.get();
    const db = await open({
      url: `sqlite:${dir}/edge.db`,
      tables: [crashKv],
      sync: {
        target: pg.url,
        schema: 'edge',
        batchSize: 400,
        intervalMs: 20,
        backoffInitialMs: 10,
        backoffMaxMs: 150,
        connectTimeoutMs: 1000,
      },
      maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
    });
    let log = '';
    let stop = false;
    let version = 0;
    let downSeen = 0;
    try {
      await db.migrate();
      const kv = db.table(crashKv);
      const worker = async () => {
        while (!stop) {
          const key = Math.floor(Math.random() * 1000);
          const v = ++version;
          if (Math.random() < 0.15) {
            log += `S ${key} D ${v}\n`;
            await kv.delete(key);
            log += `A ${key} D ${v}\n`;
          } else {
            log += `S ${key} ${v}\n`;
            await kv.upsert({ id: key, version: v, payload: `p${v}` });
            log += `A ${key} ${v}\n`;
          }
          if (v % 50 === 0) await new Promise((r) => setTimeout(r, 1));
        }
      };
      const writers = Array.from({ length: 16 }, () => worker());
      const shippedBefore: number[] = [];
      for (let i = 0; i < RESTARTS; i++) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
        const terminated = await pg.withClient(
          async (c) =>
            (await c.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'sluice sync%'")).rowCount,
          'postgres',
        );
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        shippedBefore.push(db.sync.status().synced);
        if (i % 2 === 0) await pg.restart();
        else await pg.immediateRestart();
        if (db.sync.status().target === 'down') downSeen++;
        expect(terminated).toBeGreaterThanOrEqual(0);
      }
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
      await Promise.all(writers);
      await db.sync.flush();
      const status = db.sync.status();
      const local = new Map((await kv.find({})).map((r) => [r.id, r.version]));
      const target = await pg.withClient(
        async (c) =>
          new Map((await c.query('select id, version from edge.sync_crash_kv')).rows.map((r) => [Number(r.id), Number(r.version)])),
      );
      const counts = crashCounts(readLog(log), local, target);
      console.log(
        `target restarts x${RESTARTS}: ${JSON.stringify({ ...counts, pending: status.pending, synced: status.synced, failedAttempts: status.failed, downSeen, rows: target.size })}`,
      );
      // Shipping went on between the restarts, not only at the final flush.
      expect(shippedBefore.at(-1)).toBeGreaterThan(shippedBefore[0] ?? 0);
      expect(status.failed).toBeGreaterThan(0);
      expect(lossFigures(counts, status)).toEqual(NOTHING_LOST);
      expect(status.synced).toBe(status.total);
      // A COMMIT whose answer was lost to a restart is recognised by its token: no fork.
      expect(status.forks).toBe(0);
    } finally {
      stop = true;
      await db.close();
    }
  }, 120_000);
});
