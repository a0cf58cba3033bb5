import { defineTable } from 'sluice';

/**
 * The seed's backup file records: one row per file of a backup set, written by the scanner into
 * a local SQLite file and shipped to the central PostgreSQL (or openGauss) with
 * `ON CONFLICT (backup_set_id, file_path)`.
 */
export const backupFiles = defineTable('backup_files', {
  columns: { backupSetId: 'integer', filePath: 'text', fileName: 'text', fileSize: 'integer', mtime: 'timestamp' },
  primaryKey: ['backupSetId', 'filePath'],
  sync: true,
});
