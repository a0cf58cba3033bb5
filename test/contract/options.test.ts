import { expect, it } from 'vitest';
import type { SluiceError } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';
import { items } from '../support/tables.js';

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as SluiceError,
  );

forEachDialect('every call checks its options', (t) => {
  let n = 0;
  const fresh = async (gate?: Record<string, unknown>) => {
    const name = `opts_${n++}`;
    const db = await t.open({ name, tables: [items], ...(gate ? { gate } : {}) });
    await db.migrate();
    return { db, name, table: db.table(items) };
  };

  it('refuses an unknown priority as VALIDATION, and flush() and close() still resolve', async () => {
    const { db, table } = await fresh();
    const error = await rejection(table.insert({ id: 1, name: 'a' }, { priority: 'urgent' as never }));
    expect(error).toMatchObject({ code: 'VALIDATION', table: 'items' });
    expect(error?.message).toMatch(/priority "urgent".*high, normal, low/);
    await expect(table.insert({ id: 2, name: 'b' }, { priority: 'hihg' as never })).rejects.toThrow(/did you mean "high"/);
    await expect(table.insert({ id: 3, name: 'c' }, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(table.insert({ id: 4, name: 'd' }, { nonBlocking: 'yes' as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await table.insert({ id: 5, name: 'e' });
    const settled = await Promise.race([db.flush().then(() => 'flushed'), new Promise((r) => setTimeout(() => r('wedged'), 2000))]);
    expect(settled).toBe('flushed');
    expect(await table.count()).toBe(1);
    const closed = await Promise.race([db.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('wedged'), 5000))]);
    expect(closed).toBe('closed');
  });

  it('refuses misspelt option names on reads and writes with a "did you mean", doing nothing', async () => {
    const { table } = await fresh();
    await table.insert({ id: 1, name: 'keep' });
    await expect(table.find({ whre: { id: 2 } } as never)).rejects.toThrow(/find on items: unknown option "whre"; did you mean "where"/);
    await expect(table.page({ limt: 5 } as never)).rejects.toThrow(/did you mean "limit"/);
    await expect(table.count(undefined, { cahce: true } as never)).rejects.toThrow(/did you mean "cache"/);
    await expect(table.update(1, { name: 'x' }, { were: { name: 'nope' } } as never)).rejects.toThrow(/did you mean "where"/);
    await expect(table.delete(1, { priorty: 'low' } as never)).rejects.toThrow(/did you mean "priority"/);
    await expect(table.deleteWhere({ id: 1 }, { batchSzie: 10 } as never)).rejects.toThrow(/did you mean "batchSize"/);
    expect(await table.get(1)).toMatchObject({ name: 'keep' });
  });

  it('makes emptying a table explicit: deleteWhere({}) needs { all: true }', async () => {
    const { table } = await fresh();
    await Promise.all([1, 2, 3].map((id) => table.insert({ id, name: `n${id}` })));
    await expect(table.deleteWhere({})).rejects.toThrow(/matches every row.*all: true/);
    await expect(table.deleteWhere({ $and: [] } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await table.count()).toBe(3);
    expect(await table.deleteWhere({}, { all: true })).toBe(3);
  });

  it('says what was wrong, with the value the caller passed', async () => {
    const { table } = await fresh();
    await expect(table.page({ limit: -5 })).rejects.toThrow(/limit on items must be a whole number >= 1, got -5\./);
    await expect(table.insert({ id: Number.NaN, name: 'x' })).rejects.toThrow(/got NaN/);
    let deep: Record<string, unknown> = { id: 1 };
    for (let i = 0; i < 5000; i++) deep = { $and: [deep] };
    const error = await rejection(table.find({ where: deep as never }));
    expect(error).toMatchObject({ code: 'VALIDATION' });
    expect(error?.message).toMatch(/deeper than 32 levels/);
    await expect(table.find({ where: { name: { $like: 'abc\\' } } })).rejects.toThrow(/lone escape character/);
    expect(await table.find({ where: { name: { $like: 'abc\\\\' } } })).toEqual([]);
  });

  it('refuses a page cursor made for another orderBy', async () => {
    const { table } = await fresh();
    await Promise.all(Array.from({ length: 5 }, (_, i) => table.insert({ id: i, name: `n${i}` })));
    const first = await table.page({ orderBy: 'name', limit: 2 });
    expect(first.next).not.toBeNull();
    await expect(table.page({ orderBy: 'id', limit: 2, after: first.next })).rejects.toThrow(
      /made for orderBy "name(,id)?".*sorts by "id"/,
    );
    const second = await table.page({ orderBy: 'name', limit: 2, after: first.next });
    expect(second.rows.map((r) => r.name)).toEqual(['n2', 'n3']);
  });

  it('drops enqueue() writes past the bound with a message that says so, coalescing the error callbacks', async () => {
    const errors: SluiceError[] = [];
    const name = `opts_${n++}`;
    const db = await t.open({
      name,
      tables: [items],
      gate: { maxQueue: 10, whenFull: 'wait' },
      onError: (e) => errors.push(e as SluiceError),
    });
    await db.migrate();
    const lock = await t.holdWriteLock('items', name);
    const table = db.table(items);
    for (let i = 0; i < 20_000; i++) table.enqueue({ insert: { id: i, name: `e${i}` } });
    expect(db.writeRoom()).toBe(0);
    expect(errors.length).toBe(1);
    expect(errors[0]?.message).toMatch(/dropped.*enqueue\(\) never waits, whatever whenFull says.*writeRoom\(\)/);
    await new Promise((r) => setTimeout(r, 1200));
    await lock.release();
    await db.flush();
    expect(errors.length).toBe(2);
    expect(errors[1]?.message).toMatch(/^\d+ more writes queued with enqueue\(\) to items were dropped/);
    const kept = await table.count();
    expect(kept).toBeGreaterThanOrEqual(10);
    expect(db.stats().ops.enqueueFailures).toBe(20_000 - kept);
    expect(db.writeRoom()).toBe(10);
  });
});
