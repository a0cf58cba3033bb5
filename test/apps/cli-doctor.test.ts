import { closeSync, copyFileSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_FILES_SCHEMA_VERSION, mediaFiles } from '../../src/cli/media-files-table.js';
import { compiledEntry } from '../../src/cli/package-paths.js';
import { ERROR_CODES, open } from '../../src/index.js';
import { tempDir } from '../support/databases.js';
import { describeWithPostgres } from '../support/postgres-suite.js';
import { postgresUrl, withPostgres } from '../support/services.js';
import { sluice, writeSchemaModule } from './cli-support.js';

const NOTES = "defineTable('notes', { columns: { id: 'integer', body: 'text' }, primaryKey: 'id' })";
const NOTES_WIDER = "defineTable('notes', { columns: { id: 'integer', body: 'text', pinned: 'boolean?' }, primaryKey: 'id' })";
const TAGS = "defineTable('tags', { columns: { name: 'text' }, primaryKey: 'name' })";

function overwrite(file: string, at: number, bytes: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(bytes, 0xa5), 0, bytes, at);
  } finally {
    closeSync(fd);
  }
}

/** doctor never says healthy while a table of the application is missing, and names what a damaged file is. */
describe('sluice doctor', () => {
  const dir = tempDir('sluice-cli-doctor-');

  beforeAll(() => {
    compiledEntry('cli', 'main.js');
  });

  it("with the application's schema: a missing table or column is a problem, with the migrate command that fixes it", async () => {
    const url = `sqlite:${join(dir, 'app.db')}`;
    const notesOnly = writeSchemaModule(join(dir, 'notes-only.mjs'), [NOTES]);
    const full = writeSchemaModule(join(dir, 'full.mjs'), [NOTES_WIDER, TAGS]);
    expect((await sluice(['migrate', '--db', url, '--schema', notesOnly], dir)).code).toBe(0);

    const missing = await sluice(['doctor', '--db', url, '--schema', full], dir);
    expect(missing.code).toBe(1);
    expect(missing.body.ok).toBe(false);
    const problems = missing.body.problems.join('\n');
    expect(problems).toMatch(/table tags is missing: run `sluice migrate --db \S+app\.db --schema \S+full\.mjs`/);
    expect(problems).toMatch(/table notes lacks the column pinned/);
    expect(missing.body.tables).toEqual([
      { name: 'notes', rows: 0, missingColumns: ['pinned'] },
      { name: 'tags', rows: null, missing: true },
    ]);
    // The same through SLUICE_SCHEMA, in text: never "healthy".
    const text = await sluice(['doctor', '--db', url], dir, { SLUICE_SCHEMA: full });
    expect(text.body.ok).toBe(false);

    expect((await sluice(['migrate', '--db', url, '--schema', full], dir)).code).toBe(0);
    const healthy = await sluice(['doctor', '--db', url, '--schema', full], dir);
    expect(healthy.code).toBe(0);
    expect(healthy.body).toMatchObject({
      ok: true,
      problems: [],
      tables: [
        { name: 'notes', rows: 0 },
        { name: 'tags', rows: 0 },
      ],
    });
  }, 60_000);

  it('without a schema, doctor looks at the database alone and never advises migrating the demo table into it', async () => {
    const file = join(dir, 'plain.db');
    const db = new BetterSqlite3(file);
    db.exec('create table media_files (path text primary key, status text); create table notes (id integer primary key);');
    db.close();
    const run = await sluice(['doctor', '--db', `sqlite:${file}`], dir);
    expect(run.code).toBe(0);
    expect(run.body).toMatchObject({ ok: true, schema: null, codeSchemaVersion: null, tables: [], problems: [] });
    expect(run.body.diagnosis.integrity).toEqual(['ok']);
    expect(run.body.databaseTables.map((t: { name: string }) => t.name)).toEqual(['media_files', 'notes']);
    expect(JSON.stringify(run.body)).not.toMatch(/migrate/);
    expect(run.body.warnings.join(' ')).toMatch(/--schema/);
  }, 30_000);

  it('a damaged page is reported with a documented code and says what to do', async () => {
    // The demo table with 2,000 rows, written through the library: the damage below lands in known pages.
    const file = join(dir, 'demo.db');
    const db = await open({ url: `sqlite:${file}`, tables: [mediaFiles], schemaVersion: MEDIA_FILES_SCHEMA_VERSION });
    await db.migrate();
    const files = db.table(mediaFiles);
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        files.insert({ path: `/media/${String(i).padStart(6, '0')}-${'x'.repeat(200)}.mp4`, size: i }),
      ),
    );
    await db.close();

    // A page deep in the table (integrity_check itself fails) and page 2 (open() fails), each in a copy.
    for (const page of [20, 2]) {
      const damaged = join(dir, `damaged-${page}.db`);
      copyFileSync(file, damaged);
      overwrite(damaged, (page - 1) * 4096, 4096);
      const run = await sluice(['doctor', '--db', `sqlite:${damaged}`], dir);
      expect(run.code, `page ${page}`).toBe(1);
      expect(run.body.ok).toBe(false);
      expect(ERROR_CODES).toContain(run.body.error.code);
      expect(run.body.error.code).toBe('UNAVAILABLE');
      expect(run.body.error.message).toMatch(/is damaged: .*\(SQLITE_CORRUPT\)\. Nothing was changed; restore it from a backup/);
    }

    // A damaged first page (the header) is named the same way.
    const header = join(dir, 'header.db');
    copyFileSync(file, header);
    overwrite(header, 0, 100);
    const headerRun = await sluice(['doctor', '--db', `sqlite:${header}`], dir);
    expect(headerRun.body.error.code).toBe('UNAVAILABLE');

    expect((await sluice(['doctor', '--db', `sqlite:${file}`, '--demo'], dir)).body).toMatchObject({ ok: true, tables: [{ rows: 2000 }] });
  }, 60_000);
});

describeWithPostgres('sluice doctor and migrate on PostgreSQL', () => {
  const dir = tempDir('sluice-cli-doctor-pg-');
  const schema = `cli_doctor_${process.pid}`;
  const url = `${postgresUrl}?schema=${schema}`;

  afterAll(() => withPostgres((client) => client.query(`drop schema if exists ${schema} cascade`)));

  it('the demo table stays out of a schema holding other tables, and a missing table is a problem', async () => {
    await withPostgres((client) =>
      client.query(`create schema ${schema}; create table ${schema}.orders (id int primary key, media_files text)`),
    );
    const demo = await sluice(['migrate', '--db', url, '--demo'], dir);
    expect(demo.body.error).toMatchObject({ code: 'CONFIG' });
    expect(demo.body.error.message).toMatch(/holds tables of its own \(orders\)/);

    const module = writeSchemaModule(join(dir, 'schema.mjs'), [NOTES, TAGS]);
    const notesOnly = writeSchemaModule(join(dir, 'notes.mjs'), [NOTES]);
    expect((await sluice(['migrate', '--db', url, '--schema', notesOnly], dir)).code).toBe(0);
    const doctor = await sluice(['doctor', '--db', url, '--schema', module], dir);
    expect(doctor.code).toBe(1);
    expect(doctor.body.problems.join('\n')).toMatch(/table tags is missing: run `sluice migrate/);
    const tables = await withPostgres((client) =>
      client.query('select table_name from information_schema.tables where table_schema = $1 order by table_name', [schema]),
    );
    // Sluice's own state aside, the schema holds the user's table and the application's, no demo table.
    expect(tables.rows.map((r) => r.table_name).filter((name) => !name.startsWith('_sluice'))).toEqual(['notes', 'orders']);
  }, 60_000);
});
