import { beforeAll, describe, expect, it } from 'vitest';
import type { Database, SluiceError } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';
import { items, readings } from '../support/tables.js';

forEachDialect('writes and reads', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [items, readings] });
    await db.migrate();
  });

  it('inserts a row, applies defaults, and reads it back with every type intact', async () => {
    const created = new Date('2026-01-02T03:04:05.678Z');
    const row = await db.table(items).insert({
      id: 1,
      name: 'first',
      score: 1.5,
      meta: { tags: ['a', 'b'], nested: { n: 1 } },
      createdAt: created,
      payload: Buffer.from([0, 1, 2, 255]),
    });
    expect(row).toMatchObject({ id: 1, status: 'pending', active: true, note: null });
    const read = await db.table(items).get(1);
    expect(read).toEqual({
      id: 1,
      name: 'first',
      score: 1.5,
      active: true,
      meta: { tags: ['a', 'b'], nested: { n: 1 } },
      createdAt: created,
      payload: Buffer.from([0, 1, 2, 255]),
      status: 'pending',
      note: null,
    });
  });

  it('accepts epoch milliseconds for timestamps and returns a Date', async () => {
    await db.table(items).insert({ id: 2, name: 'second', createdAt: 1_700_000_000_000 });
    expect((await db.table(items).get(2))?.createdAt).toEqual(new Date(1_700_000_000_000));
  });

  it('returns undefined for an absent key', async () => {
    expect(await db.table(items).get(999_999)).toBeUndefined();
  });

  it('upserts: inserts, then replaces the non-key columns', async () => {
    const t1 = db.table(items);
    await t1.upsert({ id: 3, name: 'third', score: 1 });
    await t1.upsert({ id: 3, name: 'third', score: 2, note: 'changed' });
    expect(await t1.get(3)).toMatchObject({ score: 2, note: 'changed' });
  });

  it('updates by key and resolves with the updated row when asked, with nothing by default', async () => {
    const updated = await db.table(items).update(2, { status: 'done', score: 9.25 }, { returning: 'row' });
    expect(updated).toMatchObject({ id: 2, status: 'done', score: 9.25, name: 'second' });
    expect(await db.table(items).update(2, { score: 9.5 })).toBeUndefined();
    expect(await db.table(items).get(2)).toMatchObject({ score: 9.5 });
    await expect(db.table(items).update(2, { score: 1 }, { returning: 'all' } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await db.table(items).get(2)).toMatchObject({ score: 9.5 });
  });

  it('rejects an update of an absent key with NOT_FOUND', async () => {
    await expect(db.table(items).update(424242, { status: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND', table: 'items' });
  });

  it('applies a compare-and-set update only while its condition holds', async () => {
    const t1 = db.table(items);
    await t1.insert({ id: 10, name: 'cas' });
    const first = await t1.update(10, { status: 'claimed', note: 'a' }, { where: { status: 'pending' }, returning: 'row' });
    expect(first.note).toBe('a');
    await expect(t1.update(10, { status: 'claimed', note: 'b' }, { where: { status: 'pending' } })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect((await t1.get(10))?.note).toBe('a');
  });

  it('lets exactly one of many concurrent compare-and-set updates win', async () => {
    const t1 = db.table(items);
    await t1.insert({ id: 11, name: 'race' });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => t1.update(11, { status: 'claimed', note: `w${i}` }, { where: { status: 'pending' } })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && (r.reason as SluiceError).code === 'CONFLICT')).toHaveLength(19);
  });

  it('deletes by key and reports whether a row was there', async () => {
    const t1 = db.table(items);
    await t1.insert({ id: 12, name: 'gone' });
    expect(await t1.delete(12)).toBe(true);
    expect(await t1.delete(12)).toBe(false);
    expect(await t1.get(12)).toBeUndefined();
  });

  it('fails one bad write alone: the rest of its batch commits', async () => {
    const t1 = db.table(items);
    await t1.insert({ id: 20, name: 'taken' });
    const writes = Array.from({ length: 50 }, (_, i) => t1.insert({ id: 100 + i, name: `batch-${i}` }));
    const duplicate = t1.insert({ id: 20, name: 'duplicate key' });
    const duplicateName = t1.insert({ id: 300, name: 'batch-7' });
    const more = Array.from({ length: 50 }, (_, i) => t1.insert({ id: 200 + i, name: `after-${i}` }));
    await expect(duplicate).rejects.toMatchObject({ code: 'CONSTRAINT', table: 'items' });
    await expect(duplicateName).rejects.toMatchObject({ code: 'CONSTRAINT' });
    await Promise.all([...writes, ...more]);
    expect(await t1.count({ id: { $gte: 100, $lt: 300 } })).toBe(100);
    expect(await t1.get(300)).toBeUndefined();
    expect((await t1.get(20))?.name).toBe('taken');
  });

  it('supports composite primary keys', async () => {
    const r = db.table(readings);
    await r.insert({ sensor: 's1', at: 1, value: 0.5 });
    await r.insert({ sensor: 's1', at: 2, value: 0.7 });
    await r.upsert({ sensor: 's1', at: 1, value: 0.6 });
    expect(await r.get({ sensor: 's1', at: 1 })).toEqual({ sensor: 's1', at: 1, value: 0.6 });
    expect(await r.update({ sensor: 's1', at: 2 }, { value: 1 }, { returning: 'row' })).toEqual({ sensor: 's1', at: 2, value: 1 });
    expect(await r.delete({ sensor: 's1', at: 2 })).toBe(true);
    await expect(r.get({ sensor: 's1' } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('reads its own acknowledged writes immediately', async () => {
    const t1 = db.table(items);
    for (let i = 0; i < 20; i++) {
      await t1.upsert({ id: 500, name: 'ryw', score: i });
      expect((await t1.get(500))?.score).toBe(i);
    }
  });

  it('enqueue writes without a promise and flush waits for them', async () => {
    const t1 = db.table(items);
    for (let i = 0; i < 100; i++) t1.enqueue({ insert: { id: 1000 + i, name: `enqueued-${i}` } });
    await db.flush();
    expect(await t1.count({ name: { $like: 'enqueued-%' } })).toBe(100);
  });

  it('sends enqueue failures to onError instead of throwing', async () => {
    const errors: unknown[] = [];
    const other = await t.open({ name: 'enqueue-errors', tables: [items], onError: (e) => errors.push(e) });
    await other.migrate();
    const t1 = other.table(items);
    expect(() => t1.enqueue({ insert: { id: 'not a number' } as never })).not.toThrow();
    t1.enqueue({ insert: { id: 1, name: 'a' } });
    t1.enqueue({ insert: { id: 1, name: 'b' } });
    await other.flush();
    expect(errors.map((e) => (e as SluiceError).code).sort()).toEqual(['CONSTRAINT', 'VALIDATION']);
    expect(other.stats().ops.enqueueFailures).toBe(1);
  });

  it('counts operations, batches and latencies in stats()', async () => {
    const stats = db.stats();
    expect(stats.ops.ok).toBeGreaterThan(100);
    expect(stats.ops.failuresByCode.CONSTRAINT).toBeGreaterThanOrEqual(2);
    expect(stats.batches.count).toBeGreaterThan(0);
    expect(stats.ackMs.count).toBe(stats.ops.ok + stats.ops.failed);
    const text = await db.metrics.metrics();
    expect(text).toContain('sluice_write_ops_ok_total');
    expect(text).toContain('sluice_commit_seconds_bucket');
  });
});

describe('the package entry', () => {
  it('exports the public surface', async () => {
    const entry = await import('../../src/index.js');
    expect(Object.keys(entry).sort()).toEqual([
      'COLUMN_TYPES',
      'Database',
      'ERROR_CODES',
      'PROFILES',
      'SluiceError',
      'defineRollup',
      'defineTable',
      'fromEnv',
      'open',
      'resolveEnvConfig',
      'syncNodes',
    ]);
  });
});
