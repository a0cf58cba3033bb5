import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, open, type SluiceError } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { items } from '../../support/tables.js';

/** Another connection to the same file, standing in for a foreign process holding the write lock. */
function holdWriteLock(file: string): { release: () => void } {
  const other = new BetterSqlite3(file, { timeout: 0 });
  other.prepare('BEGIN IMMEDIATE').run();
  other.prepare("insert into items (id, name, active, created_at, status) values (-1, 'foreign', 1, 0, 'x')").run();
  return {
    release: () => {
      other.prepare('COMMIT').run();
      other.close();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the write gate on a shared SQLite file', () => {
  const dir = tempDir();
  let file: string;
  let db: Database;
  let n = 0;

  beforeEach(async () => {
    file = join(dir, `gate-${n++}.db`);
    db = await open({ url: `sqlite:${file}`, tables: [items], gate: { maxQueue: 50, whenFull: 'reject' } });
    await db.migrate();
  });
  afterEach(() => db.close());

  it('waits out a lock held by another connection, without blocking the event loop', async () => {
    const lock = holdWriteLock(file);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const write = db.table(items).insert({ id: 1, name: 'patient' });
    await sleep(300);
    expect(ticks).toBeGreaterThan(30);
    lock.release();
    await expect(write).resolves.toMatchObject({ id: 1 });
    clearInterval(ticker);
    expect(db.stats().busy.retries).toBeGreaterThan(0);
    expect(db.stats().busy.surfaced).toBe(0);
    expect(db.stats().lockWaitMs.max).toBeGreaterThan(250);
  });

  it('rejects a nonBlocking write with BUSY at once, and writes nothing', async () => {
    const lock = holdWriteLock(file);
    const started = performance.now();
    await expect(db.table(items).insert({ id: 2, name: 'impatient' }, { nonBlocking: true, priority: 'low' })).rejects.toMatchObject({
      code: 'BUSY',
      table: 'items',
    });
    expect(performance.now() - started).toBeLessThan(200);
    lock.release();
    expect(await db.table(items).get(2)).toBeUndefined();
  });

  it('gives up with BUSY when the deadline passes, naming the table and what to do', async () => {
    const lock = holdWriteLock(file);
    const error = (await db
      .table(items)
      .insert({ id: 3, name: 'late' }, { timeoutMs: 150 })
      .catch((e) => e)) as SluiceError;
    lock.release();
    expect(error.code).toBe('BUSY');
    expect(error.message).toMatch(/items.*gave up after \d+ ms.*deadline/);
    expect(await db.table(items).get(3)).toBeUndefined();
    expect(db.stats().busy.surfaced).toBe(1);
  });

  it('commits high before normal before low when they wait together', async () => {
    const order: unknown[] = [];
    db.onCommit((changes) => {
      for (const change of changes) order.push(change.key[0]);
    });
    const lock = holdWriteLock(file);
    const writes = [
      db.table(items).insert({ id: 10, name: 'low' }, { priority: 'low' }),
      db.table(items).insert({ id: 11, name: 'normal' }),
      db.table(items).insert({ id: 12, name: 'high' }, { priority: 'high' }),
      db.table(items).insert({ id: 13, name: 'low2' }, { priority: 'low' }),
      db.table(items).insert({ id: 14, name: 'high2' }, { priority: 'high' }),
    ];
    await sleep(50);
    lock.release();
    await Promise.all(writes);
    expect(order).toEqual([12, 14, 11, 10, 13]);
  });

  it('refuses writes past the queue bound with OVERLOADED and keeps the ones it took', async () => {
    const lock = holdWriteLock(file);
    const accepted = Array.from({ length: 50 }, (_, i) => db.table(items).insert({ id: 100 + i, name: `q${i}` }));
    await expect(db.table(items).insert({ id: 999, name: 'one too many' })).rejects.toMatchObject({ code: 'OVERLOADED' });
    lock.release();
    await Promise.all(accepted);
    expect(await db.table(items).count({ id: { $gte: 100, $lt: 150 } })).toBe(50);
    expect(db.stats().overloaded).toBe(1);
  });

  it("makes writers wait for room with whenFull: 'wait'", async () => {
    const waiting = await open({ url: `sqlite:${join(dir, 'wait.db')}`, tables: [items], gate: { maxQueue: 5, whenFull: 'wait' } });
    await waiting.migrate();
    const writes = Array.from({ length: 200 }, (_, i) => waiting.table(items).insert({ id: i, name: `w${i}` }));
    await Promise.all(writes);
    expect(await waiting.table(items).count()).toBe(200);
    expect(waiting.stats().overloaded).toBe(0);
    await waiting.close();
  });

  it('applies durability explicitly on every connection', async () => {
    expect((await db.diagnose()).synchronous).toBe('NORMAL');
    const strict = await open({ url: `sqlite:${file}`, tables: [items], durability: 'power-loss' });
    const facts = await strict.diagnose();
    expect(facts.synchronous).toBe('FULL');
    expect(facts.journalMode).toBe('wal');
    expect(facts.integrity).toEqual(['ok']);
    await strict.close();
  });
});

describe('the checkpoint watchdog', () => {
  const dir = tempDir();

  it('keeps the WAL bounded once a long reader lets go, and counts the checkpoints it was refused', async () => {
    const file = join(dir, 'wal.db');
    const db = await open({
      url: `sqlite:${file}`,
      tables: [items],
      sqlite: { walMaxBytes: 1024 * 1024, checkpointIntervalMs: 20 },
    });
    await db.migrate();
    const reader = new BetterSqlite3(file, { timeout: 0 });
    reader.prepare('BEGIN').run();
    reader.prepare('select count(*) from items').get();
    const blob = Buffer.alloc(4096, 7);
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => db.table(items).insert({ id: round * 1000 + i, name: `r${round}-${i}`, payload: blob })),
      );
    }
    await sleep(100);
    const grown = db.stats().storage;
    expect(grown.walBytes).toBeGreaterThan(1024 * 1024);
    expect(grown.checkpointsBlocked).toBeGreaterThan(0);
    reader.prepare('COMMIT').run();
    reader.close();
    await sleep(200);
    const after = db.stats().storage;
    expect(after.checkpoints).toBeGreaterThan(0);
    expect(after.walBytes).toBeLessThan(1024 * 1024);
    await db.close();
  });
});
