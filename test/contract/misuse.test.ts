import { beforeAll, expect, it } from 'vitest';
import { type Database, SluiceError } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';
import { items } from '../support/tables.js';

forEachDialect('misuse and hostile input', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [items] });
    await db.migrate();
  });

  it('names the table, column, value and expected type in a validation error', async () => {
    const error = (await db
      .table(items)
      .insert({ id: 1, name: 42 as never })
      .catch((e) => e)) as SluiceError;
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'VALIDATION', table: 'items', column: 'name', value: 42 });
    expect(error.message).toBe('items.name expects a string, got 42 (number).');
  });

  it('refuses every wrong type, unknown column, missing value and bad key, writing nothing', async () => {
    const bad: unknown[] = [
      { id: 1.5, name: 'x' },
      { id: Number.MAX_SAFE_INTEGER + 2, name: 'x' },
      { id: 1, name: 'x', score: Number.NaN },
      { id: 1, name: 'x', active: 'yes' },
      { id: 1, name: 'x', createdAt: new Date('nope') },
      { id: 1, name: 'x', payload: 'not bytes' },
      { id: 1, name: 'x', meta: { f: () => 1, big: 1n } },
      { id: 1, name: null },
      { id: 1 },
      { id: 1, name: 'x', naem: 'typo' },
      'not an object',
      [1, 2],
    ];
    for (const row of bad) {
      await expect(db.table(items).insert(row as never), String(Object.keys(row as object))).rejects.toMatchObject({ code: 'VALIDATION' });
    }
    await expect(db.table(items).insert({ id: 1, name: 'x', naem: 'typo' } as never)).rejects.toThrow(/did you mean "name"/);
    await expect(db.table(items).update(1, {} as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(db.table(items).update(1, { id: 2 } as never)).rejects.toThrow(/primary key/);
    await expect(db.table(items).get('1' as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(db.table(items).get(undefined as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await db.table(items).count()).toBe(0);
  });

  it('refuses unknown columns and operators in filters and orderBy', async () => {
    const t1 = db.table(items);
    await expect(t1.find({ where: { 'name; drop table items; --': 'x' } as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t1.find({ where: { name: { $regex: '.*' } } as never })).rejects.toThrow(/unknown operator "\$regex"/);
    await expect(t1.find({ where: { name: { $lik: 'a%' } } as never })).rejects.toThrow(/did you mean "\$like"/);
    await expect(t1.find({ orderBy: '-created_at; drop table items' as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t1.find({ where: { meta: { $gt: 1 } } as never })).rejects.toThrow(/cannot be used on json column meta/);
    await expect(t1.find({ where: { score: { $in: 'x' } } as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t1.find({ where: { $or: { name: 'x' } } as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t1.find({ limit: -1 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t1.page({ after: 'garbage' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(t1.page({ orderBy: 'score' })).rejects.toThrow(/nullable column score/);
  });

  it('stores hostile values literally and finds them only by exact match', async () => {
    const hostile = ["'; drop table items; --", 'x" or "1"="1', '%', '_', '\\', '🙂 emoji'];
    await Promise.all(hostile.map((name, i) => db.table(items).insert({ id: 100 + i, name })));
    for (const name of hostile) {
      const found = await db.table(items).find({ where: { name } });
      expect(found.map((r) => r.name)).toEqual([name]);
    }
    expect(await db.table(items).count({ name: { $like: '\\%' } })).toBe(1);
    expect(await db.table(items).count({ name: { $like: '\\_' } })).toBe(1);
    expect(await db.table(items).count()).toBe(hostile.length);
  });

  it('pages through rows with a cursor, without skips or repeats', async () => {
    const t1 = db.table(items);
    await Promise.all(Array.from({ length: 25 }, (_, i) => t1.insert({ id: 1000 + i, name: `page-${i}`, status: i % 2 ? 'odd' : 'even' })));
    const seen: number[] = [];
    let after: string | null = null;
    do {
      const page: { rows: { id: number }[]; next: string | null } = await t1.page({
        where: { name: { $like: 'page-%' } },
        orderBy: ['-status', 'id'],
        limit: 4,
        after,
      });
      seen.push(...page.rows.map((r) => r.id));
      after = page.next;
    } while (after);
    const evens = Array.from({ length: 13 }, (_, i) => 1000 + i * 2);
    const odds = Array.from({ length: 12 }, (_, i) => 1001 + i * 2);
    expect(seen).toEqual([...odds, ...evens]);
  });

  it('refuses every call after close with CLOSED, after flushing what was queued', async () => {
    const errors: unknown[] = [];
    const other = await t.open({ name: 'closing', tables: [items], onError: (e) => errors.push(e) });
    await other.migrate();
    const pending = Array.from({ length: 20 }, (_, i) => other.table(items).insert({ id: i, name: `c${i}` }));
    const table = other.table(items);
    await other.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(20);
    await expect(table.insert({ id: 99, name: 'late' })).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(table.get(1)).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(table.find()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => other.table(items)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    await expect(other.migrate()).rejects.toMatchObject({ code: 'CLOSED' });
    table.enqueue({ insert: { id: 100, name: 'late' } });
    expect(errors).toEqual([expect.objectContaining({ code: 'CLOSED' })]);
    await expect(other.close()).resolves.toBeUndefined();
  });

  it('refuses a table that was not passed to open()', async () => {
    const { readings } = await import('../support/tables.js');
    expect(() => db.table(readings)).toThrow(/not passed to open/);
  });
});
