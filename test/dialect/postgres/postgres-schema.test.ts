import { describe, expect, it } from 'vitest';
import { defineTable, type Migration } from '../../../src/index.js';
import { postgresAvailable, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';

const notes = defineTable('notes', {
  columns: { id: 'integer', body: 'text' },
  primaryKey: 'id',
  indexes: ['body'],
});
const notesV2 = defineTable('notes', {
  columns: { id: 'integer', body: 'text', pinned: { type: 'boolean', default: false } },
  primaryKey: 'id',
  indexes: ['body'],
});
const seed: Migration = {
  version: 2,
  description: 'seed the welcome note',
  sql: { postgres: ["insert into notes (id, body) values (0, 'welcome')"] },
};

describe('PostgreSQL migrations and schemas', async () => {
  if (!(await postgresAvailable())) return;

  it('creates the schema at open and migrates into it, not into public', async () => {
    const schema = postgresSchema('own');
    const db = await schema.open({ tables: [notes] });
    const present = await withPostgres((c) => c.query('select 1 from pg_namespace where nspname = $1', [schema.name]));
    expect(present.rowCount).toBe(1);
    await db.migrate();
    const tables = await withPostgres((c) =>
      c.query("select table_schema from information_schema.tables where table_name = 'notes' and table_schema = any($1)", [
        [schema.name, 'public'],
      ]),
    );
    expect(tables.rows).toEqual([{ table_schema: schema.name }]);
  });

  it('applies each change once when several Database instances migrate at the same moment', async () => {
    const schema = postgresSchema('race');
    const first = await schema.open({ tables: [notes] });
    await first.migrate();
    const racers = await Promise.all(
      Array.from({ length: 4 }, () => schema.open({ tables: [notesV2], schemaVersion: 2, migrations: [seed] })),
    );
    const reports = await Promise.all(racers.map((db) => db.migrate()));
    expect(reports.map((r) => r.applied.length).sort()).toEqual([0, 0, 0, 2]);
    expect(reports.flatMap((r) => r.applied).sort()).toEqual(['add column notes.pinned', 'migration 2: seed the welcome note']);
    const recorded = await withPostgres((c) => c.query(`select version from "${schema.name}"._sluice_migrations order by version`));
    expect(recorded.rows.map((r) => Number(r.version))).toEqual([1, 2]);
    expect(await racers[0]?.table(notesV2).find()).toEqual([{ id: 0, body: 'welcome', pinned: false }]);
    for (const db of racers) expect(await db.schemaVersion()).toBe(2);
  });

  it('refuses a database whose schema is newer than the code', async () => {
    const schema = postgresSchema('newer');
    const current = await schema.open({ tables: [notesV2], schemaVersion: 2, migrations: [seed] });
    await current.migrate();
    await expect(schema.open({ tables: [notes], schemaVersion: 1 })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/newer/),
    });
  });

  it('keeps two schemas apart: same table name, separate rows, on every pooled connection', async () => {
    const a = postgresSchema('iso_a');
    const b = postgresSchema('iso_b');
    const dbA = await a.open({ tables: [notes], postgres: { poolSize: 4 } });
    const dbB = await b.open({ tables: [notes], postgres: { poolSize: 4 } });
    await Promise.all([dbA.migrate(), dbB.migrate()]);
    await Promise.all(Array.from({ length: 50 }, (_, i) => dbA.table(notes).insert({ id: i, body: `a${i}` })));
    await dbB.table(notes).insert({ id: 1, body: 'b1' });
    // More reads at once than the pool has connections, so every reader connection answers some.
    const countsA = await Promise.all(Array.from({ length: 24 }, () => dbA.table(notes).count()));
    const readsB = await Promise.all(Array.from({ length: 24 }, () => dbB.table(notes).get(1)));
    expect(new Set(countsA)).toEqual(new Set([50]));
    expect(new Set(readsB.map((r) => r?.body))).toEqual(new Set(['b1']));
    expect(dbA.stats().storage.poolTotal).toBeGreaterThan(1);
    const diagnosis = await dbA.diagnose();
    expect(diagnosis).toMatchObject({ dialect: 'postgres', schema: a.name, schemaVersion: 1, synchronousCommit: 'on' });
    expect(diagnosis.serverVersion).toMatch(/^\d+/);
    expect(diagnosis.databaseBytes).toBeGreaterThan(0);
    expect(diagnosis.connections).toBeGreaterThanOrEqual(2);
  });
});
