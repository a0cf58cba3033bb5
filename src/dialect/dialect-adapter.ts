import type { Kysely } from 'kysely';
import type { DialectName } from '../core/kinds.js';
import type { DdlFlavor } from '../query/ddl-builder.js';
import type { ListParameters } from '../query/filter-compiler.js';
import type { ValueCodec } from '../schema/value-codec.js';

/** What a database can do, as flags: core code branches on these, never on a dialect's name. */
export interface DialectCapabilities {
  /** Concurrent claimers can skip rows another transaction holds (`FOR UPDATE SKIP LOCKED`). */
  readonly skipLocked: boolean;
  /**
   * `dataVersion()` is offered: a counter on the writer connection that changes only when another
   * connection commits, so the cache can tell others' writes from our own.
   */
  readonly dataVersion: boolean;
  /** No other process can reach this database (SQLite `:memory:`): there are no foreign writers. */
  readonly processPrivate: boolean;
  /** It can be the durable local buffer that sync ships from (a SQLite file next to the process). */
  readonly syncSource: boolean;
  /** A URL of it can serve reads as a streaming replica (`postgres.replicas`). */
  readonly readReplicas: boolean;
}

/**
 * Everything that differs between databases while nothing runs: the SQL they are written in and
 * what they can do. One object per dialect (`sqlite/sqlite-adapter.ts`, `postgres/postgres-adapter.ts`),
 * built before any connection opens and passed explicitly to whatever compiles SQL for it — as
 * Kysely's own dialects do. The `Dialect` (the running connections) carries its adapter.
 */
export interface DialectAdapter {
  /** Picks a migration's SQL for this database (a migration may give one per dialect); never branched on. */
  readonly name: DialectName;
  readonly capabilities: DialectCapabilities;
  /** Values to and from the driver's storage form. */
  readonly codec: ValueCodec;
  /** A query builder used only to compile SQL for this dialect; it never executes. */
  readonly builder: Kysely<any>;
  /** How an `$in` / `$nin` list binds: one parameter whatever its length. */
  readonly lists: ListParameters;
  /** How a table, its indexes, triggers and rollups are declared. */
  readonly ddl: DdlFlavor;
  /** The commit duration the adaptive batch size aims for unless gate.targetCommitMs says otherwise. */
  readonly batchTargetMs: number;
}
