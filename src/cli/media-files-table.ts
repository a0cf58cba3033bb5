import { defineTable } from '../index.js';

/**
 * The shared-file scenario's table: media files that an ingester downloads (download_status) and schedulers
 * then transfer (transfer_status). Constant defaults go into the DDL, so foreign writers that
 * insert without them get the same values.
 *
 * The transfer status is the lifecycle: schedulers in several processes and languages claim
 * files under leases and settle them with the fencing token, and the database's triggers refuse
 * an illegal move from any client. The download status stays a plain column moved by
 * compare-and-set: one writer (the ingester) owns it, nobody claims it, and a second lifecycle
 * would need a second table, where a claim could no longer say "downloaded files only" — its
 * `where` reads one row.
 */
export const mediaFiles = defineTable('media_files', {
  columns: {
    path: 'text',
    size: { type: 'integer', default: 0 },
    downloadStatus: { type: 'text', default: 'DOWNLOADING' },
    transferStatus: 'text',
    updatedAt: { type: 'timestamp', default: () => new Date() },
  },
  primaryKey: 'path',
  // The claim reads (transfer_status, download_status) and takes the oldest first.
  indexes: [['downloadStatus'], ['transferStatus', 'downloadStatus', 'updatedAt']],
  lifecycle: {
    column: 'transferStatus',
    initial: 'pending',
    // downloading → pending is how an expired lease comes back; failed → pending is a retry.
    transitions: { pending: ['downloading'], downloading: ['completed', 'failed', 'pending'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending', maxAttempts: 5, exhaustedTo: 'failed' },
  },
});

export type MediaFilesTable = typeof mediaFiles;

/**
 * The columns every version of the demo table has had (as the database spells them). A
 * media_files table without all of them, or with a column the demo never had, is someone else's.
 */
export const DEMO_CORE_COLUMNS: readonly string[] = ['path', 'size', 'downloadStatus', 'transferStatus', 'updatedAt'].map(
  (name) => mediaFiles.columnsByName.get(name)?.sqlName ?? name,
);

/** The lifecycle history table the demo's triggers write, and its columns. */
export const DEMO_HISTORY_TABLE = `${mediaFiles.name}_history`;
export const DEMO_HISTORY_COLUMNS: readonly string[] = ['id', 'row_key', 'from_state', 'to_state', 'at', 'actor'];

/** The schema version of the built-in tables: 2 put the transfer status under a lifecycle. */
export const MEDIA_FILES_SCHEMA_VERSION = 2;

export const DOWNLOAD_STATUSES = ['DOWNLOADING', 'COMPLETED', 'FAILED'] as const;
export type DownloadStatus = (typeof DOWNLOAD_STATUSES)[number];

/**
 * How far along each download status is. Every download change moves to a higher rank and never
 * back, so "the state a row must be in" is the highest-ranked state anyone was acknowledged for,
 * with no clocks needed to order the acknowledgements.
 */
export const DOWNLOAD_RANK: Readonly<Record<DownloadStatus, number>> = { DOWNLOADING: 0, COMPLETED: 1, FAILED: 1 };
