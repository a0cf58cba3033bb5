import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { EntitySchema, type ValueTransformer } from 'typeorm';
import { defineTable } from '../../dist/index.js';
import { MEDIA_SHAPE, type MediaRecord } from './media-table.js';

/**
 * The media_files table as each peer declares it. All three write into DDL Sluice created, in the
 * storage form Sluice uses (timestamps as epoch ms, JSON as text), so every contender writes the same bytes.
 */
export const drizzleMedia = sqliteTable('media_files', {
  path: text('path').primaryKey(),
  fileName: text('file_name').notNull(),
  dockSn: text('dock_sn').notNull(),
  size: integer('size').notNull(),
  fileHash: text('file_hash').notNull(),
  downloadStatus: text('download_status').notNull(),
  transferStatus: text('transfer_status').notNull(),
  retries: integer('retries').notNull(),
  meta: text('meta', { mode: 'json' }),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

// TypeORM's own datetime type would store text, which the STRICT integer column refuses.
const epochMs: ValueTransformer = {
  to: (value?: Date) => value?.getTime(),
  from: (value: number | null) => (value === null ? null : new Date(value)),
};

/** EntitySchema rather than decorators: no experimentalDecorators in this tsconfig. */
export const typeormMedia = new EntitySchema<MediaRecord>({
  name: 'MediaFile',
  tableName: 'media_files',
  columns: {
    path: { type: 'text', primary: true },
    fileName: { type: 'text', name: 'file_name' },
    dockSn: { type: 'text', name: 'dock_sn' },
    size: { type: 'integer' },
    fileHash: { type: 'text', name: 'file_hash' },
    downloadStatus: { type: 'text', name: 'download_status' },
    transferStatus: { type: 'text', name: 'transfer_status' },
    retries: { type: 'integer' },
    meta: { type: 'simple-json', nullable: true },
    createdAt: { type: 'integer', name: 'created_at', transformer: epochMs },
    updatedAt: { type: 'integer', name: 'updated_at', transformer: epochMs },
  },
});

/** media_files (media-table.ts) with transfer_status as a lifecycle, so Sluice's status change is its `transition`. */
export const mediaLifecycle = defineTable('media_files', {
  ...MEDIA_SHAPE,
  lifecycle: { column: 'transferStatus', initial: 'pending', transitions: { pending: ['downloading'], downloading: ['completed'] } },
});
