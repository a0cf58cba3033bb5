import { expect, it } from 'vitest';
import { defineTable, SluiceError } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { withPostgres } from '../../support/services.js';
import { edgeOpener, syncedFiles, syncedKv, targetRows, targetSchema } from './sync-support.js';

describeWithPostgres('sync to PostgreSQL', () => {
  const schema = targetSchema('basic');
  const edges = edgeOpener(schema);

  it('ships inserts, coalesced updates and deletes; the target ends equal to the file', async () => {
    const db = await edges.open('basic', { tables: [syncedKv], sync: { intervalMs: 60_000, batchSize: 100_000 } });
    await db.migrate();
    const kv = db.table(syncedKv);
    for (let i = 0; i < 50; i++) await kv.insert({ id: i, version: 1, note: `n${i}` });
    for (let v = 2; v <= 5; v++) await Promise.all(Array.from({ length: 50 }, (_, i) => kv.update(i, { version: v })));
    for (let i = 40; i < 50; i++) await kv.delete(i);
    const before = db.sync.status();
    expect(before.pending).toBe(50 + 4 * 50 + 10);
    await db.sync.flush();
    const after = db.sync.status();
    expect(after.pending).toBe(0);
    expect(after.synced).toBe(before.total);
    const rows = await targetRows(schema, 'sync_kv', 'id');
    expect(rows.length).toBe(40);
    expect(rows.every((r) => Number(r.version) === 5)).toBe(true);
    expect(after.target).toBe('up');
    expect(db.stats().sync?.synced).toBe(after.synced);
    const metrics = await db.metrics.metrics();
    expect(metrics).toMatch(/sluice_sync_pending 0/);
  });

  it('ships composite keys, and a delete-then-reinsert within one batch as the last state', async () => {
    const db = await edges.open('composite', { tables: [syncedFiles], sync: { intervalMs: 60_000, batchSize: 100_000 } });
    await db.migrate();
    const files = db.table(syncedFiles);
    const mtime = new Date('2024-05-06T07:08:09.123Z');
    await files.insert({ backupSetId: 1, filePath: '/a', fileName: 'a', fileSize: 1, mtime });
    await files.insert({ backupSetId: 2, filePath: '/a', fileName: 'a2', fileSize: 2, mtime });
    await files.delete({ backupSetId: 1, filePath: '/a' });
    await files.insert({ backupSetId: 1, filePath: '/a', fileName: 'again', fileSize: 3, mtime });
    await db.sync.flush();
    const rows = await targetRows(schema, 'backup_files', 'backup_set_id');
    expect(rows.map((r) => [Number(r.backup_set_id), r.file_name, Number(r.file_size), (r.mtime as Date).toISOString()])).toEqual([
      [1, 'again', 3, mtime.toISOString()],
      [2, 'a2', 2, mtime.toISOString()],
    ]);
  });

  it('refuses a sync key that is not unique, and sync on a PostgreSQL url', async () => {
    expect(() => defineTable('bad_sync', { columns: { id: 'integer', a: 'text' }, primaryKey: 'id', sync: { key: 'a' } })).toThrow(
      /unique/,
    );
    await expect(
      import('../../../src/index.js').then((m) =>
        m.open({ url: 'postgres://x@127.0.0.1/db', tables: [syncedKv], sync: { target: 'postgres://x@127.0.0.1/db' } }),
      ),
    ).rejects.toThrow(SluiceError);
  });

  it('opens in degraded mode when the target is unreachable, writes go on, and status says why', async () => {
    const db = await edges.open('degraded', {
      tables: [syncedKv],
      sync: { target: 'postgres://postgres@127.0.0.1:1/none', connectTimeoutMs: 500 },
    });
    await db.migrate();
    await db.table(syncedKv).insert({ id: 1, version: 1 });
    const status = db.sync.status();
    expect(status.target).toBe('down');
    expect(status.lastError).toMatch(/ECONNREFUSED|connect/);
    expect(status.pending).toBe(1);
    await expect(db.sync.flush()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await db.close();
  });

  it('keeps what close() could not ship in the file, and ships it on the next start', async () => {
    const first = await edges.open('drain', { tables: [syncedKv], sync: { intervalMs: 60_000, batchSize: 100_000, drainMs: 0 } });
    await first.migrate();
    await Promise.all(Array.from({ length: 100 }, (_, i) => first.table(syncedKv).insert({ id: i, version: 1 })));
    await first.close();
    const second = await edges.open('drain', { tables: [syncedKv] });
    await second.migrate();
    await second.sync.flush();
    expect(second.sync.status().pending).toBe(0);
    const [{ n }] = await withPostgres(
      async (c) => (await c.query(`select count(*)::int as n from "${schema}".sync_kv where id < 100`)).rows,
    );
    expect(n).toBeGreaterThanOrEqual(100);
  });

  it('past maxPending, writes to synced tables wait for the shipper (none is dropped) and go on once it ships', async () => {
    const db = await edges.open('backpressure', {
      tables: [syncedKv],
      sync: { intervalMs: 3_600_000, batchSize: 100_000, maxPending: 100 },
    });
    await db.migrate();
    const kv = db.table(syncedKv);
    for (let i = 0; i < 100; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => kv.insert({ id: 1000 + i + j, version: 1 })));
    let resolved = 0;
    const waiting = Array.from({ length: 20 }, (_, j) => kv.insert({ id: 2000 + j, version: 1 }).then(() => resolved++));
    await new Promise((r) => setTimeout(r, 300));
    expect(resolved).toBe(0);
    expect(db.sync.status().pending).toBe(100);
    await db.sync.flush();
    await Promise.all(waiting);
    expect(resolved).toBe(20);
    await db.sync.flush();
    expect(db.sync.status()).toMatchObject({ pending: 0, synced: 120 });
  });
});
