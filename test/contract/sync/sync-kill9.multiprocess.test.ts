import { type ChildProcess, fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { postgresUrl, withPostgres } from '../../support/services.js';
import { crashCounts, lossFigures, NOTHING_LOST, readLogFile } from './crash-check.js';
import { crashKv } from './crash-table.js';
import { targetSchema } from './sync-support.js';

/** 25 kills in the default run (about 30 s); SLUICE_SOAK=1 makes it 100. */
const KILLS = process.env.SLUICE_SOAK === '1' ? 100 : 25;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describeWithPostgres('sync survives kill -9 of the writing, shipping process', () => {
  const schema = targetSchema('kill9');
  const dir = tempDir('sluice-sync-kill-');
  const children = new Set<ChildProcess>();
  let ended = false;
  // A timed-out test body keeps running: without this it would fork writers that create the target
  // schema again after the drop. Registered after targetSchema, so it runs before the drop.
  afterAll(async () => {
    ended = true;
    for (const child of children) child.kill('SIGKILL');
    await Promise.all([...children].map(exited));
  });

  it(`kill -9 ${KILLS} times mid-write and mid-ship, then a clean start and flush: nothing lost, nothing older, nothing invented`, async () => {
    const file = join(dir, 'edge.db');
    const log = join(dir, 'acks.log');
    writeFileSync(log, '');
    try {
      for (let run = 1; run <= KILLS && !ended; run++) {
        const child = fork(join(import.meta.dirname, 'sync-writer.ts'), [file, postgresUrl, schema, String(run), log], {
          execArgv: ['--import', 'tsx'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        children.add(child);
        await new Promise<void>((resolve, reject) => {
          child.on('message', (m: { type?: string }) => m.type === 'ready' && resolve());
          child.once('exit', (code, signal) => reject(new Error(`writer exited (${signal ?? code}) before it was ready`)));
        });
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
        child.kill('SIGKILL');
        await exited(child);
        children.delete(child);
      }
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }
    if (ended) return;
    const db = await open({ url: `sqlite:${file}`, tables: [crashKv], sync: { target: postgresUrl, schema } });
    try {
      await db.migrate();
      await db.sync.flush();
      const status = db.sync.status();
      const local = new Map((await db.table(crashKv).find({})).map((r) => [r.id, r.version]));
      const target = await withPostgres(
        async (c) =>
          new Map((await c.query(`select id, version from "${schema}".sync_crash_kv`)).rows.map((r) => [Number(r.id), Number(r.version)])),
      );
      const counts = crashCounts(readLogFile(log), local, target);
      console.log(
        `kill -9 x${KILLS}: ${JSON.stringify({ ...counts, pending: status.pending, synced: status.synced, rows: target.size, forkedFrom: status.forkedFrom })}`,
      );
      expect(counts.acknowledged).toBeGreaterThan(1000);
      expect(lossFigures(counts, status)).toEqual(NOTHING_LOST);
      expect(status.synced).toBe(status.total);
      // A killed shipper recorded each batch's token before sending it: its file is never taken for a copy.
      expect(status.forkedFrom).toBeUndefined();
    } finally {
      await db.close();
    }
  }, 180_000);
});
