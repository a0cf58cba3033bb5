import { expect, it } from 'vitest';
import type { SluiceError } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';
import { items } from '../support/tables.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

forEachDialect('the write gate under a lock held by another connection', (t) => {
  let n = 0;
  const fresh = async (gate: Record<string, unknown> = { maxQueue: 50, whenFull: 'reject' }) => {
    const name = `gate_${n++}`;
    const db = await t.open({ name, tables: [items], gate });
    await db.migrate();
    return { db, name };
  };

  it('rejects a nonBlocking write with BUSY promptly, and writes nothing', async () => {
    const { db, name } = await fresh();
    const lock = await t.holdWriteLock('items', name);
    const started = performance.now();
    await expect(db.table(items).insert({ id: 2, name: 'impatient' }, { nonBlocking: true, priority: 'low' })).rejects.toMatchObject({
      code: 'BUSY',
      table: 'items',
    });
    expect(performance.now() - started).toBeLessThan(500);
    await lock.release();
    expect(await db.table(items).get(2)).toBeUndefined();
  });

  it('gives up with BUSY when the deadline passes, naming the table and what to do', async () => {
    const { db, name } = await fresh();
    const lock = await t.holdWriteLock('items', name);
    const error = (await db
      .table(items)
      .insert({ id: 3, name: 'late' }, { timeoutMs: 150 })
      .catch((e) => e)) as SluiceError;
    await lock.release();
    expect(error.code).toBe('BUSY');
    expect(error.message).toMatch(/items.*gave up after \d+ ms.*deadline/);
    expect(await db.table(items).get(3)).toBeUndefined();
    expect(db.stats().busy.surfaced).toBe(1);
  });

  it('waits out the lock and commits once it is released', async () => {
    const { db, name } = await fresh();
    const lock = await t.holdWriteLock('items', name);
    const write = db.table(items).insert({ id: 1, name: 'patient' });
    await sleep(200);
    await lock.release();
    await expect(write).resolves.toMatchObject({ id: 1 });
    expect(db.stats().busy.surfaced).toBe(0);
  });

  it('commits high before normal before low when they wait together', async () => {
    const { db, name } = await fresh();
    const order: unknown[] = [];
    db.onCommit((changes) => {
      for (const change of changes) order.push(change.key[0]);
    });
    const lock = await t.holdWriteLock('items', name);
    const writes = [
      db.table(items).insert({ id: 10, name: 'low' }, { priority: 'low' }),
      db.table(items).insert({ id: 11, name: 'normal' }),
      db.table(items).insert({ id: 12, name: 'high' }, { priority: 'high' }),
      db.table(items).insert({ id: 13, name: 'low2' }, { priority: 'low' }),
      db.table(items).insert({ id: 14, name: 'high2' }, { priority: 'high' }),
    ];
    await sleep(50);
    await lock.release();
    await Promise.all(writes);
    expect(order).toEqual([12, 14, 11, 10, 13]);
  });

  it('refuses writes past the queue bound with OVERLOADED and commits every write it took', async () => {
    const { db, name } = await fresh();
    const lock = await t.holdWriteLock('items', name);
    const accepted = Array.from({ length: 50 }, (_, i) => db.table(items).insert({ id: 100 + i, name: `q${i}` }));
    await expect(db.table(items).insert({ id: 999, name: 'one too many' })).rejects.toMatchObject({ code: 'OVERLOADED', table: 'items' });
    await lock.release();
    await Promise.all(accepted);
    expect(await db.table(items).count({ id: { $gte: 100, $lt: 150 } })).toBe(50);
    expect(await db.table(items).get(999)).toBeUndefined();
    expect(db.stats().overloaded).toBe(1);
  });

  it("makes writers wait for room with whenFull: 'wait', losing none", async () => {
    const { db } = await fresh({ maxQueue: 5, whenFull: 'wait' });
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.table(items).insert({ id: i, name: `w${i}` })));
    expect(await db.table(items).count()).toBe(200);
    expect(db.stats().overloaded).toBe(0);
  });
});
