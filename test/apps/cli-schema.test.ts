import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { compiledEntry } from '../../src/cli/package-paths.js';
import { tempDir } from '../support/databases.js';
import { PACKAGE_ENTRY, sluice, snapshotSqlite, sqliteTables, writeSchemaModule } from './cli-support.js';

/** A user's own file: their media_files (not the demo's shape), another table, a row. */
function userDatabase(file: string): string {
  const db = new BetterSqlite3(file);
  db.exec(`
    create table media_files (path text primary key, size integer, status text not null default 'new', meta text, updated_at integer);
    create table notes (id integer primary key, body text);
    insert into media_files values ('/a.mp4', 10, 'new', '{"k":1}', 1);
    insert into notes values (1, 'keep me');`);
  db.close();
  return file;
}

/**
 * The CLI finds the application's schema (--schema, SLUICE_SCHEMA, sluice.config.mjs) and uses
 * the built-in demo table only with --demo or on the default demo file, never in a database
 * that holds other tables.
 */
describe('sluice CLI: whose tables', () => {
  const dir = tempDir('sluice-cli-schema-');

  beforeAll(() => {
    compiledEntry('cli', 'main.js');
  });

  it("without a schema, no command adds the demo table to a user's database, and their media_files is left byte for byte", async () => {
    const file = userDatabase(join(dir, 'app.db'));
    const before = snapshotSqlite(file);
    const url = `sqlite:${file}`;

    const plain = await sluice(['migrate', '--db', url], dir);
    expect(plain.code).toBe(1);
    expect(plain.body).toMatchObject({ ok: false, error: { code: 'CONFIG' } });
    expect(plain.body.error.message).toMatch(/--schema/);
    expect(plain.body.error.message).toMatch(/SLUICE_SCHEMA/);
    expect(plain.body.error.message).toMatch(/sluice\.config\.mjs/);

    // Even asked for the demo, it is refused here: the file holds a table that is not the demo's.
    for (const args of [
      ['migrate', '--db', url, '--demo'],
      ['cleanup', '--db', url, '--demo'],
      ['serve', '--db', url, '--demo', '--port', '0'],
      ['cleanup', '--db', url],
    ]) {
      const run = await sluice(args, dir);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.body.error.code, args.join(' ')).toBe('CONFIG');
      expect(run.body.error.message, args.join(' ')).toMatch(/--schema/);
    }

    // The same file where the default demo file lives: `sluice migrate` with no options at all.
    const project = join(dir, 'project');
    mkdirSync(join(project, 'data'), { recursive: true });
    copyFileSync(file, join(project, 'data', 'sluice.db'));
    const defaulted = await sluice(['migrate'], project);
    expect(defaulted.code).toBe(1);
    expect(defaulted.body.error).toMatchObject({ code: 'CONFIG' });
    expect(defaulted.body.error.message).toMatch(/notes/);
    expect(defaulted.body.error.message).toMatch(/media_files \(columns path, size, status, meta, updated_at\)/);

    expect(snapshotSqlite(file)).toEqual(before);
    expect(snapshotSqlite(join(project, 'data', 'sluice.db'))).toEqual(before);
  }, 60_000);

  it('--schema beats SLUICE_SCHEMA beats sluice.config.mjs, and the config file url is the default --db', async () => {
    const project = join(dir, 'precedence');
    mkdirSync(project);
    const table = (name: string) => `defineTable('${name}', { columns: { id: 'integer', v: 'text' }, primaryKey: 'id' })`;
    writeSchemaModule(join(project, 'flag.mjs'), [table('from_flag')]);
    writeSchemaModule(join(project, 'env.mjs'), [table('from_env')]);
    writeSchemaModule(join(project, 'config.mjs'), [table('from_config')]);
    writeFileSync(join(project, 'sluice.config.mjs'), "export default { url: 'sqlite:./from-config.db', schema: './config.mjs' };\n");
    const env = { SLUICE_SCHEMA: './env.mjs' };

    const byConfig = await sluice(['migrate'], project);
    expect(byConfig.body, byConfig.stderr).toMatchObject({
      ok: true,
      db: 'sqlite:./from-config.db',
      report: { applied: ['create table from_config'] },
    });
    const byEnv = await sluice(['migrate'], project, env);
    expect(byEnv.body).toMatchObject({ ok: true, db: 'sqlite:./from-config.db', report: { applied: ['create table from_env'] } });
    const byFlag = await sluice(['migrate', '--schema', './flag.mjs'], project, env);
    expect(byFlag.body).toMatchObject({ ok: true, db: 'sqlite:./from-config.db', report: { applied: ['create table from_flag'] } });
    expect(sqliteTables(join(project, 'from-config.db'))).toEqual(['_sluice_migrations', 'from_config', 'from_env', 'from_flag']);

    // --db beats the config file's url; SLUICE_URL does too.
    const byDb = await sluice(['migrate', '--db', 'sqlite:./other.db'], project);
    expect(byDb.body).toMatchObject({ ok: true, db: 'sqlite:./other.db', report: { applied: ['create table from_config'] } });
    const byUrl = await sluice(['migrate'], project, { SLUICE_URL: 'sqlite:./by-env.db' });
    expect(byUrl.body).toMatchObject({ ok: true, db: 'sqlite:./by-env.db' });
    expect(existsSync(join(project, 'data'))).toBe(false);

    // The config's schema may be the tables themselves; a misspelt key is refused with a hint.
    const inline = join(dir, 'inline');
    mkdirSync(inline);
    writeFileSync(
      join(inline, 'sluice.config.mjs'),
      `import { defineTable } from ${JSON.stringify(PACKAGE_ENTRY)};\nexport default { url: 'sqlite:./app.db', schema: [${table('inline_t')}] };\n`,
    );
    expect((await sluice(['migrate'], inline)).body).toMatchObject({ ok: true, report: { applied: ['create table inline_t'] } });
    // A folder of its own: this process has already imported inline's config, and imports are cached.
    const misspelt = join(dir, 'misspelt');
    mkdirSync(misspelt);
    writeFileSync(join(misspelt, 'sluice.config.mjs'), "export default { url: 'sqlite:./app.db', shema: './x.mjs' };\n");
    const typo = await sluice(['migrate'], misspelt);
    expect(typo.body.error).toMatchObject({ code: 'CONFIG' });
    expect(typo.body.error.message).toMatch(/unknown key "shema" \(did you mean "schema"\?\)/);
  }, 60_000);

  it('--demo migrates the demo table into a fresh file; stress and smoke never add it to a database holding other tables', async () => {
    const fresh = `sqlite:${join(dir, 'demo.db')}`;
    const migrated = await sluice(['migrate', '--db', fresh, '--demo'], dir);
    expect(migrated.body).toMatchObject({ ok: true, report: { fromVersion: 0, toVersion: 2, applied: ['create table media_files'] } });
    const doctor = await sluice(['doctor', '--db', fresh, '--demo'], dir);
    expect(doctor.code).toBe(0);
    expect(doctor.body.tables).toEqual([{ name: 'media_files', rows: 0 }]);
    const smoke = await sluice(['smoke', '--db', fresh, '--demo'], dir);
    expect(smoke.body.ok).toBe(true);

    const file = join(dir, 'notes.db');
    const notes = new BetterSqlite3(file);
    notes.exec("create table notes (id integer primary key, body text); insert into notes values (1, 'x');");
    notes.close();
    const before = snapshotSqlite(file);
    const url = `sqlite:${file}`;
    for (const args of [
      ['stress', '--db', url, '--processes', '2', '--seconds', '1'],
      ['stress', '--db', url, '--processes', '2', '--seconds', '1', '--demo'],
      ['smoke', '--db', url],
      ['smoke', '--db', url, '--demo'],
    ]) {
      const run = await sluice(args, dir);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.body.error.code, args.join(' ')).toBe('CONFIG');
      expect(run.body.error.message, args.join(' ')).toMatch(/--demo/);
    }
    // An application schema named for the file does not let stress in either.
    const schema = writeSchemaModule(join(dir, 'notes-schema.mjs'), [
      "defineTable('notes', { columns: { id: 'integer', body: 'text' }, primaryKey: 'id' })",
    ]);
    const withSchema = await sluice(['stress', '--db', url, '--processes', '2', '--seconds', '1'], dir, { SLUICE_SCHEMA: schema });
    expect(withSchema.body.error.code).toBe('CONFIG');
    expect(sqliteTables(file)).toEqual(['notes']);
    expect(snapshotSqlite(file)).toEqual(before);
  }, 60_000);
});
