import { beforeAll, expect, it } from 'vitest';
import { type Database, defineTable } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

/*
 * `$in` and `$nin` lists far longer than a statement's parameter limit (65,535 on PostgreSQL,
 * 32,766 on SQLite): each list travels as one bound value, on reads and on writes.
 */

const items = defineTable('items', {
  columns: { id: 'integer', name: 'text', status: 'text', score: 'real?', seen: 'timestamp?' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['working'], working: ['done', 'pending'] },
    leases: { expireTo: 'pending' },
  },
});

const ROWS = 2_000;
const LIST = 100_000;
/** 100,000 ids of which every even one below ROWS exists. */
const evenIds = Array.from({ length: LIST }, (_, i) => i * 2);
const evenNames = evenIds.map((i) => `item-${i}`);

forEachDialect('$in with 100,000 values', (t) => {
  let db: Database;

  beforeAll(async () => {
    db = await t.open({ tables: [items] });
    await db.migrate();
    const table = db.table(items);
    await Promise.all(
      Array.from({ length: ROWS }, (_, id) =>
        table.insert({ id, name: `item-${id}`, status: 'pending', score: id / 2, seen: new Date(1_700_000_000_000 + id) }),
      ),
    );
  });

  it('finds, counts and pages with a 100,000-value $in and $nin, on integer, text, real and timestamp columns', async () => {
    const table = db.table(items);
    expect(await table.count({ id: { $in: evenIds } })).toBe(ROWS / 2);
    expect(await table.count({ id: { $nin: evenIds } })).toBe(ROWS / 2);
    expect(await table.count({ name: { $in: evenNames } })).toBe(ROWS / 2);
    expect(await table.count({ score: { $in: evenIds.map((i) => i / 2) } })).toBe(ROWS / 2);
    expect(await table.count({ seen: { $in: evenIds.map((i) => new Date(1_700_000_000_000 + i)) } })).toBe(ROWS / 2);
    const found = await table.find({ where: { id: { $in: evenIds }, name: { $nin: ['item-0'] } }, orderBy: 'id', limit: 3 });
    expect(found.map((r) => r.id)).toEqual([2, 4, 6]);
    const page = await table.page({ where: { $or: [{ id: { $in: evenIds } }, { name: 'item-1' }] }, orderBy: 'id', limit: 2 });
    expect(page.rows.map((r) => r.id)).toEqual([0, 1]);
  });

  it('updates by compare-and-set, claims and deletes with a 100,000-value $in', async () => {
    const table = db.table(items);
    expect(await table.update(4, { score: 99 }, { where: { id: { $in: evenIds } }, returning: 'row' })).toMatchObject({ id: 4, score: 99 });
    await expect(table.update(5, { score: 99 }, { where: { id: { $in: evenIds } } })).rejects.toMatchObject({ code: 'CONFLICT' });
    const claimed = await table.claim({
      from: 'pending',
      to: 'working',
      where: { id: { $in: evenIds } },
      limit: 5_000,
      leaseMs: 60_000,
      owner: 'w',
    });
    expect(claimed.length).toBe(ROWS / 2);
    expect(claimed.every((r) => r.id % 2 === 0)).toBe(true);
    expect(await table.deleteWhere({ id: { $in: evenIds } })).toBe(ROWS / 2);
    expect(await table.count()).toBe(ROWS / 2);
    expect(await table.count({ id: { $in: evenIds } })).toBe(0);
  });
});
