import { expect, it } from 'vitest';
import { defineTable } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

const v1 = defineTable('docs', { columns: { id: 'integer', title: 'text' }, primaryKey: 'id' });
const v2 = defineTable('docs', {
  columns: {
    id: 'integer',
    title: 'text',
    summary: 'text?',
    words: { type: 'integer', default: 0 },
    done: { type: 'boolean', default: false },
  },
  primaryKey: 'id',
  indexes: [['words']],
});
const tags = defineTable('tags', { columns: { name: 'text' }, primaryKey: 'name' });
const broken = defineTable('docs', { columns: { id: 'integer', title: 'text', mandatory: 'text' }, primaryKey: 'id' });

forEachDialect('migrations', (t) => {
  it('tells the caller to migrate when a table is missing', async () => {
    const db = await t.open({ name: 'unmigrated', tables: [v1] });
    await expect(db.table(v1).insert({ id: 1, title: 'x' })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/migrate/),
    });
    await expect(db.table(v1).get(1)).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('applies additive changes, keeps existing rows, and records versions', async () => {
    const first = await t.open({ name: 'additive', tables: [v1] });
    expect(await first.migrate()).toEqual({ fromVersion: 0, toVersion: 1, applied: ['create table docs'] });
    await first.table(v1).insert({ id: 1, title: 'old row' });
    await first.close();

    const second = await t.open({
      name: 'additive',
      tables: [v2, tags],
      schemaVersion: 3,
      migrations: [{ version: 3, description: 'count words', sql: ["update docs set words = 2 where title = 'old row'"] }],
    });
    const report = await second.migrate();
    expect(report.fromVersion).toBe(1);
    expect(report.toVersion).toBe(3);
    expect(report.applied).toEqual([
      'add column docs.summary',
      'add column docs.words',
      'add column docs.done',
      'create table tags',
      'migration 3: count words',
    ]);
    expect(await second.table(v2).get(1)).toEqual({ id: 1, title: 'old row', summary: null, words: 2, done: false });
    expect(await second.schemaVersion()).toBe(3);
    expect((await second.migrate()).applied).toEqual([]);
    await second.close();
  });

  it('refuses a database whose schema is newer than the code', async () => {
    const newer = await t.open({ name: 'newer', tables: [v2], schemaVersion: 5 });
    await newer.migrate();
    await newer.close();
    await expect(t.open({ name: 'newer', tables: [v1], schemaVersion: 4 })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/version 5, newer than this code's version 4/),
    });
  });

  it('refuses a NOT NULL column without a default on an existing table, and applies nothing', async () => {
    const db = await t.open({ name: 'refused', tables: [v1] });
    await db.migrate();
    await db.close();
    const next = await t.open({ name: 'refused', tables: [broken, tags], schemaVersion: 2 });
    await expect(next.migrate()).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/mandatory.*constant default/) });
    expect(await next.schemaVersion()).toBe(1);
    await expect(next.table(tags).count()).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('lets several processes migrate at once: each change is applied once', async () => {
    const dbs = await Promise.all(Array.from({ length: 4 }, () => t.open({ name: 'racing', tables: [v2, tags], schemaVersion: 2 })));
    const reports = await Promise.all(dbs.map((db) => db.migrate()));
    const applied = reports.flatMap((r) => r.applied);
    expect(applied.filter((a) => a === 'create table docs')).toHaveLength(1);
    expect(applied.filter((a) => a === 'create table tags')).toHaveLength(1);
    await Promise.all(dbs.map((db, i) => db.table(v2).insert({ id: i, title: `from ${i}` })));
    expect(await dbs[0]?.table(v2).count()).toBe(4);
  });
});

const withBlobDefault = defineTable('blobs', {
  columns: { id: 'integer', data: { type: 'blob', default: Buffer.from([0xde, 0xad, 0xbe, 0xef]) } },
  primaryKey: 'id',
});

forEachDialect('constant defaults in DDL', (t) => {
  it('migrates a table whose blob column has a constant default', async () => {
    const db = await t.open({ name: 'blob_default', tables: [withBlobDefault] });
    await db.migrate();
    await db.table(withBlobDefault).insert({ id: 1 });
    expect(Buffer.from((await db.table(withBlobDefault).get(1))?.data ?? [])).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });
});
