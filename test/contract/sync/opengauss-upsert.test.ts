import { describe, expect, it } from 'vitest';
import { offsetInitSql, upsertFromSql } from '../../../src/internal.js';

// There is no openGauss server here: these pin the statement text the openGauss flavour sends;
// everything else it sends (COPY, temp tables, savepoints, advisory locks) is common SQL that
// the PostgreSQL tests run.
describe('the openGauss upsert seam', () => {
  const shape = {
    table: 'backup_files',
    source: '_sluice_stage_backup_files',
    columns: ['backup_set_id', 'file_path', 'file_name', 'file_size', 'mtime'],
    conflictKey: ['backup_set_id', 'file_path'],
    keyColumns: ['backup_set_id', 'file_path', 'file_name'],
  };

  it('openGauss: ON DUPLICATE KEY UPDATE, no key or unique column in the list, no RETURNING', () => {
    expect(upsertFromSql('opengauss', shape)).toBe(
      'INSERT INTO "backup_files" ("backup_set_id", "file_path", "file_name", "file_size", "mtime") SELECT "backup_set_id", "file_path", "file_name", "file_size", "mtime" FROM "_sluice_stage_backup_files" ON DUPLICATE KEY UPDATE "file_size" = EXCLUDED."file_size", "mtime" = EXCLUDED."mtime"',
    );
    expect(upsertFromSql('opengauss', { ...shape, columns: shape.conflictKey })).toMatch(/ON DUPLICATE KEY UPDATE NOTHING$/);
    expect(offsetInitSql('opengauss', '_sluice_sync_offsets')).toBe(
      'INSERT INTO "_sluice_sync_offsets" (node_id, seq, updated_at) VALUES ($1, 0, now()) ON DUPLICATE KEY UPDATE NOTHING',
    );
  });

  it('PostgreSQL: ON CONFLICT on the sync key, every other column updated', () => {
    expect(upsertFromSql('postgres', shape)).toBe(
      'INSERT INTO "backup_files" ("backup_set_id", "file_path", "file_name", "file_size", "mtime") SELECT "backup_set_id", "file_path", "file_name", "file_size", "mtime" FROM "_sluice_stage_backup_files" ON CONFLICT ("backup_set_id", "file_path") DO UPDATE SET "file_name" = EXCLUDED."file_name", "file_size" = EXCLUDED."file_size", "mtime" = EXCLUDED."mtime"',
    );
    expect(upsertFromSql('postgres', { ...shape, columns: shape.conflictKey })).toMatch(
      /ON CONFLICT \("backup_set_id", "file_path"\) DO NOTHING$/,
    );
    expect(offsetInitSql('postgres', '_sluice_sync_offsets')).toMatch(/ON CONFLICT \(node_id\) DO NOTHING$/);
  });
});
