import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { type Database, type OpenOptions, open } from '../../src/index.js';
import { postgresAvailable, postgresUrl, withPostgres } from './services.js';

export type DialectName = 'sqlite' | 'postgres';

export interface TestDatabases {
  readonly dialect: DialectName;
  /** Opens a database in this file's own SQLite folder or PostgreSQL schema. */
  open(options: Omit<OpenOptions, 'url'> & { name?: string }): Promise<Database>;
  /** The URL (and, for PostgreSQL, schema) the last open used. */
  location(name?: string): { url: string; schema?: string };
  /**
   * Another connection takes the write lock on `table` and keeps it until `release()`: SQLite's
   * BEGIN IMMEDIATE on the file, PostgreSQL's LOCK TABLE … IN EXCLUSIVE MODE (inserts, updates
   * and deletes wait; reads do not). Resolves once the lock is held.
   */
  holdWriteLock(table: string, name?: string): Promise<{ release: () => Promise<void> }>;
}

let counter = 0;

/** A fresh temporary folder, removed when the file's tests end. */
export function tempDir(prefix = 'sluice-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Runs one test body for every dialect. Each file gets its own SQLite folder and its own
 * PostgreSQL schema, dropped afterwards, so files run in parallel without meeting.
 */
export function forEachDialect(title: string, body: (t: TestDatabases) => void): void {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    describe(`${title} [${dialect}]`, async () => {
      if (dialect === 'postgres' && !(await postgresAvailable())) return;
      const opened: Database[] = [];
      const schemas = new Set<string>();
      const dir = dialect === 'sqlite' ? tempDir() : '';
      const tag = `${process.pid}_${Date.now().toString(36)}_${counter++}`;
      const location = (name = 'main') =>
        dialect === 'sqlite'
          ? { url: `sqlite:${join(dir, `${name}.db`)}` }
          : {
              url: postgresUrl,
              schema: `t_${tag}_${name}`
                .toLowerCase()
                .replace(/[^a-z0-9_]/g, '_')
                .slice(0, 63),
            };
      afterAll(async () => {
        // A database a failed test left wedged must not keep its schema from being dropped.
        const closing = Promise.all(opened.map((db) => db.close().catch(() => {})));
        await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
        if (schemas.size > 0) {
          await withPostgres(async (client) => {
            for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
          });
        }
      });
      body({
        dialect,
        location,
        async holdWriteLock(table, name) {
          const where = location(name);
          if (dialect === 'sqlite') {
            const other = new BetterSqlite3(where.url.slice('sqlite:'.length), { timeout: 0 });
            other.prepare('BEGIN IMMEDIATE').run();
            return {
              release: async () => {
                other.prepare('ROLLBACK').run();
                other.close();
              },
            };
          }
          const client = new pg.Client({ connectionString: postgresUrl });
          await client.connect();
          await client.query(`begin; lock table "${where.schema}"."${table}" in exclusive mode`);
          return {
            release: async () => {
              await client.query('rollback');
              await client.end();
            },
          };
        },
        async open({ name, ...options }) {
          const where = location(name);
          if (where.schema) schemas.add(where.schema);
          const db = await open({
            ...options,
            url: where.url,
            ...(where.schema ? { postgres: { ...(options.postgres ?? {}), schema: where.schema } } : {}),
          });
          opened.push(db);
          return db;
        },
      });
    });
  }
}
