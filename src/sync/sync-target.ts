import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SluiceError } from '../core/sluice-error.js';
import { offsetInitSql, type UpsertFlavor, upsertFromSql } from '../dialect/postgres/opengauss-upsert.js';
import { createPostgresBuilder, POSTGRES_ARRAY_TYPES, postgresDdlFlavor, quoteIdentifier } from '../dialect/postgres/postgres-builder.js';
import { addColumnSql, createTableSql } from '../query/ddl-builder.js';
import type { AnyTableDef, ColumnDef } from '../schema/define-table.js';
import { COPY_ENCODERS, type CopyEncoder, copyLine, keyParam } from './copy-text.js';

export const OFFSETS_TABLE = '_sluice_sync_offsets';

/** What one outbox key became in a batch: its current row (stored values, column order), or absent. */
export interface ShipItem {
  readonly table: string;
  readonly keyJson: string;
  /** The outbox rows this key covers. */
  readonly seqs: number[];
  /** The local row in column order; undefined ships as a delete. */
  readonly row: readonly unknown[] | undefined;
  /** The stored primary key. */
  readonly key: readonly unknown[];
}

export interface ShipBatch {
  /** The mark the target must hold for this batch to apply: the seq before its first row. */
  readonly after: number;
  /** The batch's last seq: the mark once applied. */
  readonly last: number;
  readonly items: readonly ShipItem[];
}

export type ApplyResult =
  | { readonly kind: 'applied'; readonly upserts: number; readonly deletes: number }
  /** The target's mark is not `after`: another shipper moved it, or this one already applied the batch. */
  | { readonly kind: 'moved'; readonly mark: number }
  /** Rows the target refused, each with its error; nothing was applied. */
  | { readonly kind: 'refused'; readonly refused: readonly { item: ShipItem; error: string }[] };

export interface SyncTargetOptions {
  readonly url: string;
  readonly schema: string | undefined;
  readonly flavor: UpsertFlavor;
  readonly connectTimeoutMs: number;
  readonly nodeId: string;
  readonly tables: readonly AnyTableDef[];
}

/** The target refused a value (a constraint it has and we don't, a value out of its range). */
export function isRowRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code.startsWith('P0'));
}

/** Another process holds this node's shipping lock. */
export class ShipperLockedError extends Error {}

interface TablePlan {
  readonly def: AnyTableDef;
  readonly stage: string;
  readonly columns: readonly ColumnDef[];
  readonly encoders: readonly CopyEncoder[];
  readonly upsert: string;
  readonly delete: string;
  readonly copy: string;
}

/**
 * One dedicated connection to the target (temporary tables live in a session, so never a pool).
 * It holds a session advisory lock on the node id while connected: one shipper per node at a time,
 * whichever process runs it.
 */
export class SyncTarget {
  readonly #options: SyncTargetOptions;
  readonly #plans = new Map<string, TablePlan>();
  #client: pg.Client | undefined;

  constructor(options: SyncTargetOptions) {
    this.#options = options;
    for (const def of options.tables) this.#plans.set(def.name, plan(def, options.flavor));
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Connects, takes the node's lock, creates missing target tables and returns the target's mark. */
  async connect(): Promise<number> {
    if (this.#client) return this.mark();
    const client = new pg.Client({
      connectionString: this.#options.url,
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      keepAlive: true,
      // A target that stops answering (a dropped link, a frozen server) fails the batch, which is retried.
      query_timeout: 60_000,
      application_name: `sluice sync ${this.#options.nodeId}`.slice(0, 63),
    });
    // A backend terminated while idle reports here; the next query fails and the shipper reconnects.
    client.on('error', () => {
      if (this.#client === client) this.#client = undefined;
    });
    try {
      await client.connect();
      const locked = await client.query('select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok', [
        'sluice.sync',
        this.#options.nodeId,
      ]);
      if (locked.rows[0]?.ok !== true) {
        throw new ShipperLockedError(`another process is shipping node ${this.#options.nodeId} to this target; this one waits`);
      }
      await this.#migrate(client);
      // Made outside any batch's transaction, so a rolled-back batch cannot take them away.
      for (const planned of this.#plans.values()) {
        await client.query(`create temp table if not exists ${quoteIdentifier(planned.stage)} (like ${quoteIdentifier(planned.def.name)})`);
      }
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    this.#client = client;
    return this.mark();
  }

  async #migrate(client: pg.Client): Promise<void> {
    const schema = this.#options.schema;
    await client.query('begin');
    try {
      // Several edge nodes may create the same tables at once; the lock makes them take turns.
      await client.query("select pg_advisory_xact_lock(hashtext('sluice.sync.ddl'))");
      if (schema !== undefined) {
        await client.query(`create schema if not exists ${quoteIdentifier(schema)}`);
        await client.query(`set search_path to ${quoteIdentifier(schema)}`);
      }
      await client.query(
        `create table if not exists ${OFFSETS_TABLE} (node_id text primary key, seq bigint not null, updated_at timestamptz not null)`,
      );
      const flavor = postgresDdlFlavor(createPostgresBuilder());
      for (const def of this.#options.tables) {
        const { rows } = await client.query(
          'select column_name from information_schema.columns where table_schema = current_schema() and table_name = $1',
          [def.name],
        );
        if (rows.length === 0) {
          for (const statement of createTableSql(flavor, def)) await client.query(statement);
        } else {
          const have = new Set(rows.map((r: { column_name: string }) => r.column_name));
          for (const column of def.columns) if (!have.has(column.sqlName)) await client.query(addColumnSql(flavor, def, column));
        }
      }
      await client.query(offsetInitSql(this.#options.flavor, OFFSETS_TABLE), [this.#options.nodeId]);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
  }

  /** This node's high-water mark on the target. */
  async mark(): Promise<number> {
    const { rows } = await this.#require().query(`select seq from ${OFFSETS_TABLE} where node_id = $1`, [this.#options.nodeId]);
    return rows.length === 0 ? 0 : Number(rows[0].seq);
  }

  /**
   * Applies a batch and advances the mark in one transaction, only if the mark still stands at
   * `batch.after`. Refused rows are isolated by bisection inside savepoints; if any are found the
   * whole transaction is rolled back and they are reported, so the caller can set them aside and
   * ship the rest as a fresh batch.
   */
  async apply(batch: ShipBatch): Promise<ApplyResult> {
    try {
      return await this.#apply(batch, false);
    } catch (error) {
      // The fast path runs without savepoints (a subtransaction per batch costs every row); a
      // refusal aborted it whole, so the batch runs again with each part in its own savepoint.
      if (!isRowRefusal(error)) throw error;
      return this.#apply(batch, true);
    }
  }

  async #apply(batch: ShipBatch, isolate: boolean): Promise<ApplyResult> {
    const client = this.#require();
    await client.query('begin');
    try {
      const { rows } = await client.query(`select seq from ${OFFSETS_TABLE} where node_id = $1 for update`, [this.#options.nodeId]);
      const mark = rows.length === 0 ? 0 : Number(rows[0].seq);
      if (mark !== batch.after) {
        await client.query('rollback');
        return { kind: 'moved', mark };
      }
      const byTable = new Map<string, { upserts: ShipItem[]; deletes: ShipItem[] }>();
      for (const item of batch.items) {
        let entry = byTable.get(item.table);
        if (!entry) {
          entry = { upserts: [], deletes: [] };
          byTable.set(item.table, entry);
        }
        (item.row === undefined ? entry.deletes : entry.upserts).push(item);
      }
      const refused: { item: ShipItem; error: string }[] = [];
      let upserts = 0;
      let deletes = 0;
      for (const [table, entry] of byTable) {
        const planned = this.#plans.get(table);
        if (!planned)
          throw new SluiceError('CONFIG', `The outbox holds changes of ${table}, which is not among the synced tables passed to open().`, {
            table,
          });
        if (entry.deletes.length > 0) {
          if (isolate) await this.#bisect(client, entry.deletes, (items) => this.#delete(client, planned, items), refused);
          else await this.#delete(client, planned, entry.deletes);
          deletes += entry.deletes.length;
        }
        if (entry.upserts.length > 0) {
          if (isolate) await this.#bisect(client, entry.upserts, (items) => this.#upsert(client, planned, items), refused);
          else await this.#upsert(client, planned, entry.upserts);
          upserts += entry.upserts.length;
        }
      }
      if (refused.length > 0) {
        await client.query('rollback');
        return { kind: 'refused', refused };
      }
      await client.query(`update ${OFFSETS_TABLE} set seq = $2, updated_at = now() where node_id = $1`, [this.#options.nodeId, batch.last]);
      await client.query('commit');
      return { kind: 'applied', upserts: upserts, deletes };
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
  }

  /** Tries the items in one savepoint; on a refusal, splits them in halves until each bad row is alone. */
  async #bisect(
    client: pg.Client,
    items: readonly ShipItem[],
    run: (items: readonly ShipItem[]) => Promise<void>,
    refused: { item: ShipItem; error: string }[],
  ): Promise<void> {
    await client.query('savepoint sluice_part');
    try {
      await run(items);
      await client.query('release savepoint sluice_part');
    } catch (error) {
      if (!isRowRefusal(error)) throw error;
      await client.query('rollback to savepoint sluice_part');
      await client.query('release savepoint sluice_part');
      if (items.length === 1) {
        refused.push({ item: items[0] as ShipItem, error: describePgError(error) });
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.#bisect(client, items.slice(0, half), run, refused);
      await this.#bisect(client, items.slice(half), run, refused);
    }
  }

  async #upsert(client: pg.Client, planned: TablePlan, items: readonly ShipItem[]): Promise<void> {
    await client.query(`truncate ${quoteIdentifier(planned.stage)}`);
    await new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom(planned.copy));
      stream.on('error', reject);
      stream.on('finish', resolve);
      let chunk = '';
      for (const item of items) {
        chunk += copyLine(item.row as readonly unknown[], planned.encoders);
        if (chunk.length > 1 << 20) {
          stream.write(chunk);
          chunk = '';
        }
      }
      stream.end(chunk);
    });
    await client.query(planned.upsert);
  }

  async #delete(client: pg.Client, planned: TablePlan, items: readonly ShipItem[]): Promise<void> {
    const pk = planned.def.primaryKey;
    const arrays = pk.map((column, i) => items.map((item) => keyParam(column.type, item.key[i])));
    await client.query(planned.delete, arrays);
  }

  #require(): pg.Client {
    if (!this.#client) throw new SluiceError('UNAVAILABLE', 'The sync target is not connected.');
    return this.#client;
  }

  /** Drops the connection (and with it the node lock and the temporary tables). */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.end().catch(() => {});
  }
}

function plan(def: AnyTableDef, flavor: UpsertFlavor): TablePlan {
  const q = quoteIdentifier;
  const stage = `_sluice_stage_${def.name}`.slice(0, 63);
  const columns = def.columns;
  const names = columns.map((c) => c.sqlName);
  const conflictKey = (def.sync?.key ?? def.primaryKey).map((c) => c.sqlName);
  const keyColumns = [...def.primaryKey, ...def.unique.flat()].map((c) => c.sqlName);
  const pk = def.primaryKey;
  const using = pk.map((c, i) => `$${i + 1}::${POSTGRES_ARRAY_TYPES[c.type]}`).join(', ');
  const alias = pk.map((_, i) => `k${i}`).join(', ');
  const match = pk.map((c, i) => `t.${q(c.sqlName)} = d.k${i}`).join(' AND ');
  return {
    def,
    stage,
    columns,
    encoders: columns.map((c) => COPY_ENCODERS[c.type]),
    upsert: upsertFromSql(flavor, { table: def.name, source: stage, columns: names, conflictKey, keyColumns }),
    delete: `DELETE FROM ${q(def.name)} AS t USING unnest(${using}) AS d(${alias}) WHERE ${match}`,
    copy: `COPY ${q(stage)} (${names.map(q).join(', ')}) FROM STDIN`,
  };
}

/** The target's own words, with its SQLSTATE and constraint, for a dead letter. */
export function describePgError(error: unknown): string {
  const e = error as { message?: string; code?: string; constraint?: string; detail?: string };
  const parts = [e.message ?? String(error)];
  if (e.code) parts.push(`SQLSTATE ${e.code}`);
  if (e.constraint) parts.push(`constraint ${e.constraint}`);
  if (e.detail) parts.push(e.detail);
  return parts.join('; ');
}
