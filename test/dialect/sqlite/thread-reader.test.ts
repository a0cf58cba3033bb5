import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/core/sluice-error.js';
import { SqliteThreadReader } from '../../../src/dialect/sqlite/sqlite-thread-reader.js';
import { tempDir } from '../../support/databases.js';

const dir = tempDir('sluice-thread-reader-');
const readers: SqliteThreadReader[] = [];

function reader(file: string, fallback = (_sql: string, _params: readonly unknown[]) => Promise.resolve([{ from: 'fallback' }])) {
  const r = new SqliteThreadReader({ file, cacheKiB: 2048, busyTimeoutMs: 2000 }, fallback);
  readers.push(r);
  return r;
}

afterEach(async () => {
  await Promise.all(readers.splice(0).map((r) => r.close()));
});

describe('the SQLite read thread', () => {
  it('sees every commit made before the read was asked, on its own connection', async () => {
    const file = join(dir, 'commits.db');
    const writer = new BetterSqlite3(file);
    writer.pragma('journal_mode = wal');
    writer.exec('create table t (id integer primary key, v text)');
    const r = reader(file);
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      writer.prepare('insert into t (id, v) values (?, ?)').run(i, `v${i}`);
      const [row] = await r.selectAll('select count(*) as n from t', []);
      seen.push(Number(row?.n));
    }
    writer.close();
    // Each read counted exactly the rows committed before it: none missed, none from later.
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('returns blobs as Buffers, as the dialect reader does (COPY text is read as a blob)', async () => {
    const file = join(dir, 'blobs.db');
    const writer = new BetterSqlite3(file);
    writer.pragma('journal_mode = wal');
    writer.exec('create table b (id integer primary key, data blob)');
    writer.prepare('insert into b values (1, ?)').run(Buffer.from('a\tb\n', 'utf8'));
    writer.close();
    const [row] = await reader(file).selectAll('select data from b where id = ?', [1]);
    expect(Buffer.isBuffer(row?.data)).toBe(true);
    expect(String(row?.data)).toBe('a\tb\n');
  });

  it('fails a bad read alone with a SluiceError that keeps SQLite message, and goes on reading', async () => {
    const file = join(dir, 'errors.db');
    const writer = new BetterSqlite3(file);
    writer.pragma('journal_mode = wal');
    writer.exec('create table t (id integer primary key)');
    writer.close();
    const r = reader(file);
    const failed = await r.selectAll('select * from missing_table', []).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(SluiceError);
    expect((failed as Error).message).toMatch(/no such table: missing_table/);
    await expect(r.selectAll('select count(*) as n from t', [])).resolves.toEqual([{ n: 0 }]);
    // The reader never writes, whatever it is asked.
    const write = await r.selectAll('insert into t values (1) returning id', []).catch((error: unknown) => error);
    expect(write).toBeInstanceOf(SluiceError);
  });

  it('reads through the fallback once closed', async () => {
    const file = join(dir, 'closed.db');
    new BetterSqlite3(file).close();
    const r = reader(file);
    await r.selectAll('select 1 as one', []);
    await r.close();
    await expect(r.selectAll('select 1 as one', [])).resolves.toEqual([{ from: 'fallback' }]);
  });
});
