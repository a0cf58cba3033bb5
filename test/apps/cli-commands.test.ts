import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ForeignSqlite, foreignEnv, prepareForeignSqlite } from '../../src/cli/foreign/foreign-sqlite.js';
import { compiledEntry, packageRoot, scriptFile } from '../../src/cli/package-paths.js';
import type { Database, Table } from '../../src/index.js';
import { exited, runCli, waitForLine } from '../support/child-processes.js';
import { sluice, sluiceText } from './cli-support.js';

/** The commands in-process through runCli; the built binary where the process boundary is the point. */
describe('sluice CLI', () => {
  let dir: string;
  let db: string;
  let sqlite: ForeignSqlite;

  const json = (args: string[]) => sluice(args, dir);

  beforeAll(async () => {
    compiledEntry('cli', 'main.js');
    dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    db = `sqlite:${join(dir, 'cli.db')}`;
    sqlite = await prepareForeignSqlite((text) => console.log(text));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrate --demo creates the built-in table once, then has nothing to do', async () => {
    const first = await json(['migrate', '--db', db, '--demo']);
    expect(first.code).toBe(0);
    expect(first.body).toMatchObject({
      command: 'migrate',
      ok: true,
      report: { fromVersion: 0, toVersion: 2, applied: ['create table media_files'] },
    });
    const again = await json(['migrate', '--db', db, '--demo']);
    expect(again.body.report).toEqual({ fromVersion: 2, toVersion: 2, applied: [] });
  }, 30_000);

  it('migrate and doctor take a schema module', async () => {
    const module = join(dir, 'schema.mjs');
    const entry = pathToFileURL(join(packageRoot(), 'dist', 'index.js')).href;
    writeFileSync(
      module,
      `import { defineTable } from ${JSON.stringify(entry)};\nexport const tables = [defineTable('notes', { columns: { id: 'integer', body: 'text' }, primaryKey: 'id' })];\nexport const schemaVersion = 3;\n`,
    );
    const url = `sqlite:${join(dir, 'notes.db')}`;
    const migrated = await json(['migrate', '--db', url, '--schema', module]);
    expect(migrated.body.report).toMatchObject({ toVersion: 3, applied: ['create table notes'] });
    const doctor = await json(['doctor', '--db', url, '--schema', module]);
    expect(doctor.body).toMatchObject({ ok: true, codeSchemaVersion: 3, tables: [{ name: 'notes', rows: 0 }] });
    // A schema at version 2 meets a database at version 3: doctor says so and fails.
    const older = join(dir, 'older-schema.mjs');
    writeFileSync(older, readFileSync(module, 'utf8').replace('schemaVersion = 3', 'schemaVersion = 2'));
    const behind = await json(['doctor', '--db', url, '--schema', older]);
    expect(behind.code).toBe(1);
    expect(behind.body.problems.join(' ')).toMatch(/newer than this code/);
  }, 30_000);

  it('doctor reports integrity, WAL, checkpoint, versions and tables', async () => {
    const { code, body } = await json(['doctor', '--db', db, '--demo']);
    expect(code).toBe(0);
    expect(body.diagnosis).toMatchObject({ integrity: ['ok'], journalMode: 'wal', schemaVersion: 2, checkpointComplete: true });
    expect(body.diagnosis.sqliteVersion).toMatch(/^3\./);
    expect(typeof body.diagnosis.walBytesBefore).toBe('number');
    expect(body.tables).toEqual([{ name: 'media_files', rows: 0 }]);
  }, 30_000);

  it('smoke runs the round trip and leaves nothing behind', async () => {
    const { code, body } = await json(['smoke', '--db', db, '--demo']);
    expect(code).toBe(0);
    expect(body.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`)).toEqual([
      'insert:ok',
      'read:ok',
      'transition:ok',
      'delete:ok',
    ]);
    expect((await json(['doctor', '--db', db, '--demo'])).body.tables).toEqual([{ name: 'media_files', rows: 0 }]);
  }, 30_000);

  it('smoke --non-blocking reports BUSY at once while another process holds the lock; smoke waits it out', async () => {
    const file = join(dir, 'cli.db');
    const holder = spawn(sqlite.python, [scriptFile('hold_write_lock.py'), '--db', file, '--seconds', '8', '--path', 'holder/cli'], {
      env: foreignEnv(sqlite),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await waitForLine(holder, 'locked');
    const refused = await json(['smoke', '--db', db, '--demo', '--non-blocking']);
    expect(refused.code).toBe(1);
    expect(refused.body).toMatchObject({ ok: false, busy: true, leftBehind: false });
    expect(refused.body.steps[0]).toMatchObject({ step: 'insert', status: 'busy' });
    expect(refused.body.steps[0].ms).toBeLessThan(1000);
    const waited = await json(['smoke', '--db', db, '--demo']);
    expect(waited.body.ok).toBe(true);
    await exited(holder);
  }, 30_000);

  it('cleanup runs retention, the lease reaper and the task cleanup once, table by table', async () => {
    const entry = pathToFileURL(join(packageRoot(), 'dist', 'index.js')).href;
    const module = join(dir, 'cleanup-schema.mjs');
    writeFileSync(
      module,
      [
        `import { defineTable } from ${JSON.stringify(entry)};`,
        "export const events = defineTable('events', { columns: { id: 'integer', at: 'timestamp' }, primaryKey: 'id', retention: { column: 'at', maxAgeMs: 3_600_000 } });",
        "export const jobs = defineTable('jobs', { columns: { id: 'integer', status: 'text' }, primaryKey: 'id', lifecycle: { column: 'status', initial: 'pending', transitions: { pending: ['running'], running: ['done', 'pending'] }, leases: { expireTo: 'pending' } } });",
        'export const tables = [events, jobs];',
        'export const tasks = true;',
        '',
      ].join('\n'),
    );
    const url = `sqlite:${join(dir, 'cleanup.db')}`;
    expect((await json(['migrate', '--db', url, '--schema', module])).code).toBe(0);

    // Old and fresh rows, two leases already expired, one task finished 8 days ago and one pending.
    const sluice = (await import(entry)) as typeof import('../../src/index.js');
    // The task store's own table, from the built package's internal entry (users never need it).
    const { tasksTable } = (await import(entry.replace(/index\.js$/, 'internal.js'))) as typeof import('../../src/internal.js');
    const { events, jobs, tables } = (await import(pathToFileURL(module).href)) as Record<string, any>;
    // The module's tables come from the built package, so their row types are not known here.
    const table = (db: Database, definition: unknown) => db.table(definition as never) as Table<any>;
    const app = await sluice.open({
      url,
      tables,
      tasks: true,
      maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
    });
    const day = 24 * 3_600_000;
    await Promise.all(Array.from({ length: 2500 }, (_, i) => table(app, events).insert({ id: i, at: new Date(Date.now() - 2 * day) })));
    await Promise.all(Array.from({ length: 10 }, (_, i) => table(app, events).insert({ id: 10_000 + i, at: new Date() })));
    await Promise.all([1, 2, 3].map((id) => table(app, jobs).insert({ id })));
    // Leases of a millisecond have long run out when cleanup starts (callers cannot back-date a lease).
    expect(await table(app, jobs).claim({ from: 'pending', to: 'running', limit: 2, leaseMs: 1, owner: 'gone' })).toHaveLength(2);
    const old = await app.tasks.create('ocr', { page: 1 });
    await app.tasks.start(old.id);
    await app.tasks.complete(old.id, { text: 'hello' });
    await app.table(tasksTable).update(old.id, { updatedAt: new Date(Date.now() - 8 * day) });
    await app.tasks.create('ocr', { page: 2 });
    await app.close();

    const first = await json(['cleanup', '--db', url, '--schema', module]);
    expect(first.code).toBe(0);
    const rows = (body: Record<string, any>) =>
      Object.fromEntries(body.steps.map((s: { job: string; table: string; rows: number }) => [`${s.job} ${s.table}`, s.rows]));
    expect(rows(first.body)).toEqual({ 'retention events': 2500, 'reap jobs': 2, 'reap sluice_tasks': 0, 'tasks sluice_tasks': 1 });
    for (const step of first.body.steps) expect(typeof step.ms).toBe('number');
    const again = await json(['cleanup', '--db', url, '--schema', module]);
    expect(rows(again.body)).toEqual({ 'retention events': 0, 'reap jobs': 0, 'reap sluice_tasks': 0, 'tasks sluice_tasks': 0 });

    const after = await sluice.open({
      url,
      tables,
      tasks: true,
      maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
    });
    try {
      expect(await table(after, events).count()).toBe(10);
      expect(await table(after, jobs).count({ status: 'pending' } as never)).toBe(3);
      expect(await after.table(tasksTable).count()).toBe(1);
    } finally {
      await after.close();
    }
    // The built-in schema has leases and no retention: one reaper pass, nothing to hand back.
    const builtIn = await sluiceText(['cleanup', '--db', db, '--demo'], dir);
    expect(builtIn.code).toBe(0);
    expect(builtIn.stdout).toMatch(/reap\s+media_files\s+0 rows/);
  }, 60_000);

  it('the bin: errors print their code and message and exit non-zero; usage errors and --version as commander has them', async () => {
    const bad = await json(['doctor', '--db', 'mysql://nowhere']);
    expect(bad.code).toBe(1);
    expect(bad.body).toMatchObject({ command: 'doctor', ok: false, error: { code: 'CONFIG' } });
    const text = await runCli(['stress', '--demo', '--db', 'sqlite::memory:'], dir);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^sluice stress: CONFIG: .*in-memory/);
    const unknown = await runCli(['migrate', '--bogus'], dir);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    const version = await runCli(['--version'], dir);
    expect(version).toMatchObject({
      code: 0,
      stdout: `${JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version}\n`,
    });
  }, 30_000);
});
