import { afterAll } from 'vitest';
import { type Database, defineTable, type OpenOptions, open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { postgresUrl, withPostgres } from '../../support/services.js';

let counter = 0;

/** A target schema of its own for one test file, dropped when the file ends (even on failure). */
export function targetSchema(tag: string): string {
  const name = `sync_${tag}_${process.pid}_${Date.now().toString(36)}_${counter++}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
  afterAll(async () => {
    await withPostgres((client) => client.query(`drop schema if exists "${name}" cascade`));
  });
  return name;
}

/** Opens edge files in a temporary folder, each shipping to `schema` on the shared PostgreSQL. */
export function edgeOpener(schema: string, url = postgresUrl) {
  const dir = tempDir('sluice-sync-');
  const opened: Database[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close().catch(() => {})));
  });
  return {
    dir,
    file: (name: string) => `${dir}/${name}.db`,
    async open(name: string, options: Omit<OpenOptions, 'url'> & { sync?: Partial<NonNullable<OpenOptions['sync']>> }) {
      const db = await open({
        ...options,
        url: `sqlite:${dir}/${name}.db`,
        sync: { target: url, schema, intervalMs: 20, backoffInitialMs: 20, backoffMaxMs: 200, ...(options.sync ?? {}) },
        maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
      });
      opened.push(db);
      return db;
    },
  };
}

export async function targetRows(schema: string, table: string, orderBy: string): Promise<Record<string, unknown>[]> {
  return withPostgres(async (client) => (await client.query(`select * from "${schema}"."${table}" order by ${orderBy}`)).rows);
}

export const syncedFiles = defineTable('backup_files', {
  columns: { backupSetId: 'integer', filePath: 'text', fileName: 'text', fileSize: 'integer', mtime: 'timestamp' },
  primaryKey: ['backupSetId', 'filePath'],
  sync: true,
});

export const syncedKv = defineTable('sync_kv', {
  columns: { id: 'integer', version: 'integer', note: 'text?' },
  primaryKey: 'id',
  sync: true,
});
