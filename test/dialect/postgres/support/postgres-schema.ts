import pg from 'pg';
import { afterAll, onTestFinished } from 'vitest';
import { type Database, type OpenOptions, open } from '../../../../src/index.js';
import { postgresUrl } from '../../../support/services.js';

let counter = 0;

/**
 * Runs `fn` when the current test ends, or when the file's tests end if called outside a test.
 * afterAll registered from inside a test body never runs, which is how schemas used to leak.
 */
export function cleanupAfter(fn: () => Promise<void>): void {
  try {
    onTestFinished(fn, 60_000);
  } catch {
    afterAll(fn, 60_000);
  }
}

/**
 * A schema of its own on `url` (the shared test server unless told), dropped with every database
 * opened on it closed first when the test that made it ends (or the file's tests, when made in a
 * describe), whether the test passed or failed.
 */
export function postgresSchema(
  label: string,
  url = postgresUrl,
): {
  readonly name: string;
  readonly url: string;
  open(options?: Omit<OpenOptions, 'url'>): Promise<Database>;
} {
  const name = `spg_${label}_${process.pid}_${Date.now().toString(36)}_${counter++}`.toLowerCase();
  const opened: Database[] = [];
  cleanupAfter(async () => {
    await Promise.all(opened.map((db) => db.close().catch(() => {})));
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query(`drop schema if exists "${name}" cascade`);
    } finally {
      await client.end().catch(() => {});
    }
  });
  return {
    name,
    url,
    async open(options = {}) {
      const db = await open({ ...options, url, postgres: { ...(options.postgres ?? {}), schema: name } });
      opened.push(db);
      return db;
    },
  };
}
