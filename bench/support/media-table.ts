import { randomUUID } from 'node:crypto';
import { defineTable, type InsertType } from '../../dist/index.js';

/** The media_files columns, keys and indexes, shared by every bench table of that name. */
export const MEDIA_SHAPE = {
  columns: {
    path: 'text',
    fileName: 'text',
    dockSn: 'text',
    size: 'integer',
    fileHash: 'text',
    downloadStatus: 'text',
    transferStatus: 'text',
    retries: 'integer',
    meta: 'json?',
    createdAt: 'timestamp',
    updatedAt: 'timestamp',
  },
  primaryKey: 'path',
  indexes: [['transferStatus', 'updatedAt'], ['downloadStatus']],
} as const;

/**
 * The media file record of the shared-file scenario: a file a dock downloads (DOWNLOADING → COMPLETED/FAILED) and a
 * scheduler ships on (pending → downloading → completed), with the lookups both make indexed.
 */
export const mediaFiles = defineTable('media_files', MEDIA_SHAPE);

export type MediaRow = InsertType<typeof mediaFiles>;

const EPOCH = Date.UTC(2025, 0, 15);

/** A file name as the dock writes it, counting up: keys arrive in order (the B-tree's easy case). */
export function sequentialPath(n: number): string {
  return `/data/temp/dji/media/DJI_20250115_${String(n).padStart(9, '0')}_V.MP4`;
}

/** A key that lands anywhere in the index, like a content hash or a UUID. */
export function scatteredPath(): string {
  return `/data/temp/dji/media/${randomUUID()}.jpg`;
}

export function mediaRow(path: string, n: number) {
  const at = new Date(EPOCH + n);
  return {
    path,
    fileName: path.slice(path.lastIndexOf('/') + 1),
    dockSn: `DOCK-${n % 8}`,
    size: 1_000_000 + ((n * 7919) % 50_000_000),
    fileHash: (n * 2654435761).toString(16).padStart(32, '0'),
    downloadStatus: 'DOWNLOADING',
    transferStatus: 'pending',
    retries: 0,
    meta: { camera: 'M3E', lat: 22.5 + (n % 1000) / 1e4, lon: 113.9 + (n % 997) / 1e4 },
    createdAt: at,
    updatedAt: at,
  } satisfies MediaRow;
}

export type MediaRecord = ReturnType<typeof mediaRow>;

/**
 * What a hand-written app binds for the same row: the storage form Sluice uses on SQLite
 * (JSON as text, timestamps as epoch milliseconds), so both sides write identical bytes.
 */
export function rawParams(row: MediaRecord): unknown[] {
  return [
    row.path,
    row.fileName,
    row.dockSn,
    row.size,
    row.fileHash,
    row.downloadStatus,
    row.transferStatus,
    row.retries,
    JSON.stringify(row.meta),
    row.createdAt.getTime(),
    row.updatedAt.getTime(),
  ];
}

export const RAW_INSERT_SQL =
  'insert into media_files (path, file_name, dock_sn, size, file_hash, download_status, transfer_status, retries, meta, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

export const RAW_INSERT_PG_SQL =
  'insert into media_files (path, file_name, dock_sn, size, file_hash, download_status, transfer_status, retries, meta, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)';

export const RAW_SELECT_SQL =
  'select path, file_name, dock_sn, size, file_hash, download_status, transfer_status, retries, meta, created_at, updated_at from media_files where path = ?';

export const RAW_UPDATE_SQL = 'update media_files set transfer_status = ?, retries = ?, updated_at = ? where path = ?';
