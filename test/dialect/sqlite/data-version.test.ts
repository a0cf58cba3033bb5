import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DataVersionWatch, dataVersionSource } from '../../../src/cache/data-version-watch.js';
import { sqliteAdapter } from '../../../src/dialect/sqlite/sqlite-adapter.js';
import { open } from '../../../src/index.js';
import { cachedKv } from '../../support/cached-tables.js';
import { tempDir } from '../../support/databases.js';

const dir = tempDir('sluice-cache-dv-');

/** Runs SQL in a separate Python sqlite3 process (a foreign writer) and returns when it committed. */
function python(file: string, sql: string, params: unknown[] = []): void {
  const script =
    'import sqlite3,sys,json\nc=sqlite3.connect(sys.argv[1],timeout=10)\nc.execute(sys.argv[2],json.loads(sys.argv[3]))\nc.commit()\n';
  const run = spawnSync('python3', ['-c', script, file, sql, JSON.stringify(params)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PRAGMA data_version', () => {
  it('changes for a connection when another connection commits, never for its own commits', () => {
    const file = join(dir, 'fact.db');
    const writer = new BetterSqlite3(file);
    writer.pragma('journal_mode = wal');
    writer.exec('create table t (id integer primary key, v integer)');
    const reader = new BetterSqlite3(file, { readonly: true });
    const version = (db: BetterSqlite3.Database) => db.pragma('data_version', { simple: true }) as number;
    const w0 = version(writer);
    const r0 = version(reader);
    writer.prepare('insert into t values (1, 1)').run();
    expect(version(writer)).toBe(w0); // our writer's own commit: unchanged on the writer connection
    const r1 = version(reader);
    expect(r1).not.toBe(r0); // ...but a separate connection of the same process sees it
    python(file, 'update t set v = 2 where id = 1');
    expect(version(writer)).not.toBe(w0); // a foreign commit changes it for the writer
    expect(version(reader)).not.toBe(r1);
    reader.close();
    writer.close();
  });
});

describe('cross-process coherency on SQLite', () => {
  it('drops cached rows and query results a foreign writer changed, within the stale bound', async () => {
    const file = join(dir, 'foreign.db');
    const staleBoundMs = 200;
    const db = await open({ url: `sqlite:${file}`, tables: [cachedKv], cache: { staleBoundMs } });
    try {
      await db.migrate();
      const kv = db.table(cachedKv);
      for (let id = 0; id < 5; id++) await kv.insert({ id, version: 1, writer: 'node' });
      let worstLagMs = 0;
      for (let version = 2; version <= 6; version++) {
        expect((await kv.get(1))?.version).toBe(version - 1);
        expect(await kv.count({ version: version - 1 }, { cache: true })).toBeGreaterThan(0);
        python(file, 'update cached_kv set version = ? where id = ?', [version, 1]);
        const committed = performance.now();
        let seen = (await kv.get(1))?.version;
        while (seen !== version && performance.now() - committed < staleBoundMs * 3) {
          await sleep(2);
          seen = (await kv.get(1))?.version;
        }
        worstLagMs = Math.max(worstLagMs, performance.now() - committed);
        // The contract: any read that starts a bound after the commit sees it.
        await sleep(Math.max(0, staleBoundMs - (performance.now() - committed)));
        expect((await kv.get(1))?.version).toBe(version);
        expect(await kv.count({ version }, { cache: true })).toBe(1);
      }
      python(file, 'delete from cached_kv where id = ?', [2]);
      await sleep(staleBoundMs);
      expect(await kv.get(2)).toBeUndefined();
      python(file, "insert into cached_kv (id, version, writer) values (99, 1, 'py')");
      await sleep(staleBoundMs);
      expect(await kv.get(99)).toMatchObject({ version: 1, writer: 'py' });
      const stats = db.stats().cache;
      expect(stats.foreignFlushes).toBeGreaterThanOrEqual(7);
      console.log(`foreign commit → visible: worst ${worstLagMs.toFixed(1)} ms (bound ${staleBoundMs} ms)`);
    } finally {
      await db.close();
    }
  });
});

describe('data_version sources', () => {
  it('ignores our own commits when the dialect offers the writer connection counter, and sees foreign ones', () => {
    const file = join(dir, 'source.db');
    const writer = new BetterSqlite3(file);
    writer.pragma('journal_mode = wal');
    writer.exec('create table t (id integer primary key, v integer)');
    let changes = 0;
    const adapter = sqliteAdapter(file);
    const offered = dataVersionSource({ adapter, dataVersion: () => writer.pragma('data_version', { simple: true }) as number });
    const watch = new DataVersionWatch(offered!, 0, () => changes++);
    writer.prepare('insert into t values (1, 1)').run();
    watch.check();
    expect(changes).toBe(0);
    python(file, 'update t set v = 2 where id = 1');
    watch.check();
    expect(changes).toBe(1);
    // A dialect without the capability offers no source: the cache falls back to the stale bound.
    expect(dataVersionSource({ adapter: { ...adapter, capabilities: { ...adapter.capabilities, dataVersion: false } } })).toBeUndefined();
    writer.close();
  });
});
