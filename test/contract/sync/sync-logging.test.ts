import { expect, it } from 'vitest';
import type { Database } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { recorder } from '../../support/recording-logger.js';
import { withPostgres } from '../../support/services.js';
import { copyEdgeFile, range } from './edge-files.js';
import { edgeOpener, syncedKv, targetSchema } from './sync-support.js';

async function writeRows(db: Database, ids: readonly number[], note?: string): Promise<void> {
  const kv = db.table(syncedKv);
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(ids.slice(i, i + 100).map((id) => kv.upsert({ id, version: 1, ...(note === undefined ? {} : { note }) })));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

describeWithPostgres('sync logs', () => {
  const schema = targetSchema('logging');
  const edges = edgeOpener(schema);

  it('logs each batch with its trigger: count, interval, cap, forced and drain', async () => {
    const logger = recorder();
    const triggers = () => logger.events('sync_batch').map((l) => l.fields.trigger);
    // Count: 40 changes reach batchSize; the interval is too long to fire.
    let db = await edges.open('triggers', { tables: [syncedKv], logger, sync: { batchSize: 40, intervalMs: 3_600_000 } });
    await db.migrate();
    await writeRows(db, range(0, 40));
    await until(() => triggers().includes('count'));
    // Forced: flush() ships 5 changes the count would not.
    await writeRows(db, range(100, 5));
    await db.sync.flush();
    // Drain: close() ships what waits.
    await writeRows(db, range(200, 5));
    await db.close();
    expect(triggers()).toEqual(['count', 'forced', 'drain']);
    expect(logger.events('sync_batch')[0]).toMatchObject({ level: 'info', fields: { trigger: 'count', rows: 40 } });
    expect(Number(logger.events('sync_batch')[0]?.fields.ms)).toBeGreaterThan(0);

    // Interval: 3 changes wait past intervalMs.
    db = await edges.open('triggers', { tables: [syncedKv], logger, sync: { batchSize: 1000, intervalMs: 100 } });
    await writeRows(db, range(300, 3));
    await until(() => triggers().includes('interval'));
    await db.close();
    // Cap: maxPending (20) below batchSize holds the writes until the interval ships them.
    db = await edges.open('triggers', { tables: [syncedKv], logger, sync: { batchSize: 1000, intervalMs: 300, maxPending: 20 } });
    await writeRows(db, range(400, 30));
    await until(() => triggers().includes('cap'));
    await db.close();
    expect(logger.events('sync_batch').find((l) => l.fields.trigger === 'cap')?.fields.rows).toBe(20);
  }, 30_000);

  it('folds a busy shipper: one info line at once, the rest at debug, one summary with the counts', async () => {
    const logger = recorder();
    const db = await edges.open('busy', { tables: [syncedKv], logger, sync: { batchSize: 100, intervalMs: 3_600_000 } });
    await db.migrate();
    await writeRows(db, range(0, 2000));
    await db.sync.flush();
    await db.close();
    const batches = logger.events('sync_batch');
    const info = logger.lines.filter((l) => l.level === 'info' && String(l.fields.event).startsWith('sync_batch'));
    const summary = logger.events('sync_batches');
    const shipped = batches.reduce((n, l) => n + Number(l.fields.rows), 0);
    console.log(`busy shipper: ${batches.length} batches, ${info.length} info lines`);
    expect(shipped).toBe(2000);
    expect(batches.length).toBeGreaterThanOrEqual(10);
    expect(batches.filter((l) => l.level === 'info')).toHaveLength(1);
    expect(info).toHaveLength(2);
    expect(summary).toMatchObject([
      { level: 'info', fields: { batches: batches.length - 1, rows: 2000 - Number(batches[0]?.fields.rows) } },
    ]);
    const triggers = summary[0]?.fields.triggers as Record<string, number>;
    expect(Object.values(triggers).reduce((a, b) => a + b, 0)).toBe(batches.length - 1);
  }, 30_000);

  it('logs target state changes once each: down at warn however often it fails, up at info', async () => {
    const logger = recorder();
    const down = await edges.open('down', {
      tables: [syncedKv],
      logger,
      sync: { target: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 200, backoffInitialMs: 10, backoffMaxMs: 20 },
    });
    await down.migrate();
    await writeRows(down, range(0, 3));
    await until(() => down.sync.status().failed >= 4);
    await down.close();
    expect(logger.events('sync_target')).toMatchObject([{ level: 'warn', fields: { state: 'down' } }]);
    expect(String(logger.events('sync_target')[0]?.fields.lastError)).toMatch(/ECONNREFUSED|connect/);

    const up = recorder();
    const db = await edges.open('up', { tables: [syncedKv], logger: up });
    await db.migrate();
    await writeRows(db, range(0, 3));
    await db.sync.flush();
    await db.close();
    expect(up.events('sync_target')).toMatchObject([{ level: 'info', fields: { state: 'up' } }]);
  }, 30_000);

  it('logs a fork at warn with both node ids, and not as an error', async () => {
    const first = await edges.open('forked', { tables: [syncedKv], sync: { intervalMs: 3_600_000 } });
    await first.migrate();
    await writeRows(first, range(0, 10));
    await first.sync.flush();
    await first.close();
    copyEdgeFile(edges.file('forked'), edges.file('forked-copy'));
    const original = await edges.open('forked', { tables: [syncedKv], sync: { intervalMs: 3_600_000 } });
    await writeRows(original, range(100, 10));
    await original.sync.flush();
    const logger = recorder();
    const copy = await edges.open('forked-copy', { tables: [syncedKv], logger, sync: { intervalMs: 3_600_000 } });
    await writeRows(copy, range(200, 10));
    await copy.sync.flush();
    const status = copy.sync.status();
    await Promise.all([original.close(), copy.close()]);
    expect(status.forks).toBe(1);
    expect(logger.events('sync_fork')).toMatchObject([{ level: 'warn', fields: { nodeId: status.nodeId, forkedFrom: status.forkedFrom } }]);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 30_000);

  it('logs dead letters at warn with counts and the target codes, the row values only with logParams', async () => {
    await withPostgres(async (c) => {
      await c.query(`create schema if not exists "${schema}"`);
      await c.query(`create table if not exists "${schema}".sync_kv (id bigint primary key, version bigint not null, note text)`);
      await c.query(`alter table "${schema}".sync_kv add constraint no_secret check (note is null or note <> 'secret-7731')`);
    });
    try {
      for (const logParams of [false, true]) {
        const logger = recorder();
        const db = await edges.open(`dead-${logParams}`, { tables: [syncedKv], logger, logParams, sync: { intervalMs: 3_600_000 } });
        await db.migrate();
        const base = logParams ? 1000 : 0;
        await writeRows(db, range(base, 20));
        await writeRows(db, [base + 5, base + 6], 'secret-7731');
        // Each refused key covers two changes: its insert and the update that carried the value.
        expect(await db.sync.flush()).toMatchObject({ deadLettered: 4 });
        await db.close();
        expect(logger.events('sync_dead_letters')).toMatchObject([
          { level: 'warn', fields: { count: 4, keys: 2, tables: { sync_kv: 4 }, sqlStates: ['23514'], constraints: ['no_secret'] } },
        ]);
        const text = JSON.stringify(logger.lines);
        if (logParams) expect(logger.events('sync_dead_letters')[0]?.fields.error).toMatch(/secret-7731/);
        else expect(text).not.toMatch(/secret-7731/);
      }
    } finally {
      await withPostgres((c) => c.query(`alter table "${schema}".sync_kv drop constraint if exists no_secret`));
    }
  }, 30_000);
});
