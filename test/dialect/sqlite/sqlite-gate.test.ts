import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, open } from '../../../src/index.js';
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

  // Lanes, BUSY, OVERLOADED and whenFull are dialect-neutral: test/contract/gate.test.ts.

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

describe('a request too large for SQLite', () => {
  it('fails alone with VALIDATION, not as an unavailable database', async () => {
    const db = await open({ url: ':memory:', tables: [items] });
    await db.migrate();
    const terms = Array.from({ length: 40_000 }, (_, i) => ({ id: i }));
    await expect(db.table(items).find({ where: { $or: terms } as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(db.table(items).deleteWhere({ $or: terms } as never)).rejects.toThrow(/too large for SQLite.*split it/);
    await expect(db.table(items).insert({ id: 1, name: 'still fine' })).resolves.toMatchObject({ id: 1 });
    await db.close();
  });
});
