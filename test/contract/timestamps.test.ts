import BetterSqlite3 from 'better-sqlite3';
import { beforeAll, expect, it } from 'vitest';
import { type Database, defineTable } from '../../src/index.js';
import { forEachDialect, type TestDatabases } from '../support/databases.js';
import { foreignPython } from '../support/foreign-python.js';
import { withPostgres } from '../support/services.js';

const events = defineTable('events', {
  columns: { id: 'integer', status: 'text', note: 'text?' },
  primaryKey: 'id',
  timestamps: true,
  lifecycle: {
    column: 'status',
    initial: 'open',
    transitions: { open: ['acked'], acked: ['closed'] },
    leases: { expireTo: 'open' },
  },
});

/** The same table before it kept timestamps: migrating to `events` adds and fills the columns. */
const eventsBefore = defineTable('events', { columns: { id: 'integer', status: 'text', note: 'text?' }, primaryKey: 'id' });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Raw SQL from outside Sluice: Python's sqlite3 on SQLite, a plain pg client on PostgreSQL. */
async function foreign(t: TestDatabases, statement: string, name = 'main'): Promise<string | undefined> {
  const where = t.location(name);
  if (t.dialect === 'sqlite') {
    const [result] = foreignPython(where.url.slice('sqlite:'.length), [statement]);
    return result?.ok ? undefined : result?.error;
  }
  try {
    await withPostgres(async (client) => {
      await client.query(`set search_path to "${where.schema}"`);
      await client.query(statement);
    });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

forEachDialect('timestamps', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [events], maintenance: { reapIntervalMs: 0 } });
    await db.migrate();
  });

  it('sets both on insert, moves updatedAt on update, upsert, transition and claim, and never moves createdAt', async () => {
    const table = db.table(events);
    const before = Date.now();
    const inserted = await table.insert({ id: 1 });
    expect(inserted.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(inserted.updatedAt.getTime()).toBe(inserted.createdAt.getTime());
    expect(await table.get(1)).toMatchObject({ createdAt: inserted.createdAt, updatedAt: inserted.updatedAt });
    const moves: [string, () => Promise<unknown>][] = [
      ['update', () => table.update(1, { note: 'a' })],
      ['upsert', () => table.upsert({ id: 1, status: 'open', note: 'b' })],
      ['claim', () => table.claim({ from: 'open', to: 'acked', limit: 1, leaseMs: 60_000, owner: 'w', where: { id: 1 } })],
      ['transition', () => table.transition(1, 'closed')],
    ];
    let last = inserted.updatedAt.getTime();
    for (const [what, move] of moves) {
      await sleep(3);
      await move();
      const row = await table.get(1);
      expect({ what, moved: (row?.updatedAt.getTime() ?? 0) > last }).toEqual({ what, moved: true });
      expect(row?.createdAt).toEqual(inserted.createdAt);
      last = row?.updatedAt.getTime() ?? 0;
    }
  });

  it('keeps an imported createdAt on insert, and refuses either column in a patch', async () => {
    const table = db.table(events);
    const then = new Date('2020-01-02T03:04:05.678Z');
    expect(await table.insert({ id: 2, createdAt: then, updatedAt: then })).toMatchObject({ createdAt: then, updatedAt: then });
    await expect(table.update(2, { updatedAt: new Date() } as never)).rejects.toMatchObject({ code: 'VALIDATION', column: 'updatedAt' });
    await expect(table.update(2, { createdAt: new Date() } as never)).rejects.toMatchObject({ code: 'VALIDATION', column: 'createdAt' });
    await expect(table.transition(2, 'acked', { set: { createdAt: new Date() } as never })).rejects.toMatchObject({ code: 'VALIDATION' });
    expect((await table.get(2))?.createdAt).toEqual(then);
  });

  it('fills them for a foreign insert, moves updatedAt on a foreign update, and refuses a foreign change of createdAt', async () => {
    const table = db.table(events);
    const before = Date.now() - 1;
    expect(await foreign(t, "insert into events (id, status) values (3, 'open')")).toBeUndefined();
    const row = await table.get(3);
    expect(row?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(row?.updatedAt).toEqual(row?.createdAt);
    await sleep(5);
    expect(await foreign(t, "update events set note = 'foreign' where id = 3")).toBeUndefined();
    const changed = await table.find({ where: { id: 3 } });
    expect(changed[0]?.updatedAt.getTime()).toBeGreaterThan(row?.updatedAt.getTime() ?? 0);
    expect(changed[0]?.createdAt).toEqual(row?.createdAt);
    const refused = await foreign(
      t,
      t.dialect === 'sqlite' ? 'update events set created_at = 0 where id = 3' : "update events set created_at = '2000-01-01' where id = 3",
    );
    expect(refused).toMatch(/created_at is set once/);
  });

  it('adds and fills the columns when an existing table starts keeping timestamps', async () => {
    const old = await t.open({ name: 'upgrade', tables: [eventsBefore] });
    await old.migrate();
    await old.table(eventsBefore).insert({ id: 1, status: 'open' });
    await old.close();
    const before = Date.now() - 1;
    const upgraded = await t.open({ name: 'upgrade', tables: [events] });
    const report = await upgraded.migrate();
    expect(report.applied).toEqual(expect.arrayContaining(['add column events.created_at', 'add column events.updated_at']));
    const row = await upgraded.table(events).get(1);
    expect(row?.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(row?.updatedAt).toEqual(row?.createdAt);
  });

  it('refuses declaring the columns yourself', () => {
    expect(() => defineTable('t', { columns: { id: 'integer', createdAt: 'timestamp' }, primaryKey: 'id', timestamps: true })).toThrow(
      /createdAt is added by timestamps: true/,
    );
  });
});

it("the SQLite triggers do not write a second time for Sluice's own updates", async () => {
  // A foreign-writer trigger that fired for our own writes would double every update's cost.
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ts-'));
  try {
    const { open } = await import('../../src/index.js');
    const db = await open({ url: `sqlite:${join(dir, 'a.db')}`, tables: [events] });
    await db.migrate();
    await db.table(events).insert({ id: 1 });
    await db.close();
    const raw = new BetterSqlite3(join(dir, 'a.db'));
    raw.exec('create table probe (n integer)');
    raw.exec('create trigger probe_count after update on events begin insert into probe values (1); end');
    raw.close();
    const again = await open({ url: `sqlite:${join(dir, 'a.db')}`, tables: [events] });
    // A millisecond apart, as updates of one row are outside a tight loop (two stamps within one
    // millisecond are equal, and then the trigger may rewrite the same value once more).
    for (let i = 0; i < 10; i++) {
      await again.table(events).update(1, { note: `n${i}` });
      await sleep(2);
    }
    await again.close();
    const check = new BetterSqlite3(join(dir, 'a.db'));
    // One row per UPDATE statement Sluice ran: no extra trigger-made update fired the probe again.
    expect((check.prepare('select count(*) as n from probe').get() as { n: number }).n).toBe(10);
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
