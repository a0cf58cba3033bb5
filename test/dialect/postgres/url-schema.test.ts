import { afterAll, describe, expect, it } from 'vitest';
import { defineTable, open } from '../../../src/index.js';
import { postgresAvailable, postgresUrl, withPostgres } from '../../support/services.js';

const notes = defineTable('url_schema_notes', { columns: { id: 'integer', body: 'text' }, primaryKey: 'id' });

describe('?schema= in a PostgreSQL URL', async () => {
  if (!(await postgresAvailable())) return;
  const schema = `url_schema_${process.pid}_${Date.now().toString(36)}`;
  afterAll(() => withPostgres((client) => client.query(`drop schema if exists "${schema}" cascade`)));

  it('puts the tables in that schema, not in public', async () => {
    const db = await open({ url: `${postgresUrl}?schema=${schema}`, tables: [notes] });
    try {
      await db.migrate();
      await db.table(notes).insert({ id: 1, body: 'here' });
    } finally {
      await db.close();
    }
    const where = await withPostgres((client) =>
      client.query<{ table_schema: string }>('select table_schema from information_schema.tables where table_name = $1', [notes.name]),
    );
    expect(where.rows.map((r) => r.table_schema)).toEqual([schema]);
  });

  it('refuses a URL schema that disagrees with postgres.schema, or is not an identifier', async () => {
    await expect(open({ url: `${postgresUrl}?schema=${schema}`, tables: [notes], postgres: { schema: 'other' } })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(open({ url: `${postgresUrl}?schema=bad-name;drop`, tables: [notes] })).rejects.toThrow(/not a plain identifier/);
  });
});
