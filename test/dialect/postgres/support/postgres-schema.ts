import { afterAll } from 'vitest';
import { type Database, type OpenOptions, open } from '../../../../src/index.js';
import { postgresUrl, withPostgres } from '../../../support/services.js';

let counter = 0;

/**
 * A schema of this test file's own, dropped (with every database opened on it closed first) when
 * the file's tests end. Call inside a describe, after checking postgresAvailable().
 */
export function postgresSchema(label: string): {
  readonly name: string;
  open(options?: Omit<OpenOptions, 'url'>): Promise<Database>;
} {
  const name = `spg_${label}_${process.pid}_${Date.now().toString(36)}_${counter++}`.toLowerCase();
  const opened: Database[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close().catch(() => {})));
    await withPostgres((client) => client.query(`drop schema if exists "${name}" cascade`));
  });
  return {
    name,
    async open(options = {}) {
      const db = await open({ ...options, url: postgresUrl, postgres: { ...(options.postgres ?? {}), schema: name } });
      opened.push(db);
      return db;
    },
  };
}
