import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SluiceError } from '../../core/sluice-error.js';
import type { AnyTableDef } from '../../schema/define-table.js';
import type { UpsertFlavor } from './opengauss-upsert.js';
import { quoteIdentifier } from './postgres-builder.js';
import { prepareTarget } from './postgres-sync-ddl.js';
import { isRowRefusal, type RowRefusal, rollback, rowRefusal, stalls, TargetStalledError } from './postgres-sync-errors.js';
import { copyLine, keyParam, plan, type TablePlan } from './postgres-sync-plan.js';

export const OFFSETS_TABLE = '_sluice_sync_offsets';

/** What one key became by the time a batch ships: its current row, or none (a delete). */
export interface TargetChange {
  readonly table: string;
  /** The row in column order, in SQLite's stored form; undefined ships as a delete. */
  readonly row: readonly unknown[] | undefined;
  /** The stored primary key; read for deletes only. */
  readonly key: readonly unknown[];
}

export interface ShipBatch<T extends TargetChange> {
  /** The mark the target must hold for this batch to apply: the seq before its first row. */
  readonly after: number;
  /** The lineage token the target must hold with that mark (null: none written yet). */
  readonly lineage: string | null;
  /** The batch's last seq: the mark once applied. */
  readonly last: number;
  /** The token the batch leaves on the target, recorded in the file before it was sent. */
  readonly next: string;
  readonly items: readonly T[];
}

/** This node's row on the target. */
export interface TargetMark {
  readonly seq: number;
  readonly lineage: string | null;
}

/** One change the target refused, with what it said. */
export interface Refused<T> extends RowRefusal {
  readonly item: T;
}

export type ApplyResult<T> =
  | { readonly kind: 'applied'; readonly upserts: number; readonly deletes: number }
  /** The target's mark or lineage is not what the batch expected: another shipper moved it. */
  | { readonly kind: 'moved'; readonly mark: TargetMark }
  /** Rows the target refused, each with its error; nothing was applied. */
  | { readonly kind: 'refused'; readonly refused: readonly Refused<T>[] };

export interface SyncTargetOptions {
  readonly url: string;
  readonly schema: string | undefined;
  readonly flavor: UpsertFlavor;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  readonly nodeId: string;
  readonly tables: readonly AnyTableDef[];
}

/**
 * One dedicated connection to the target (temporary tables live in a session, so never a pool).
 * Shipping a round takes a session advisory lock on the node id (lock() … unlock()): one shipper
 * per node at a time, whichever process runs it. The lock is let go between rounds, so an idle
 * holder never keeps another process (or a copy of the file) from looking at the target.
 */
export class PostgresSyncTarget {
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

  get nodeId(): string {
    return this.#options.nodeId;
  }

  /** Connects, creates missing target tables, the node's offset row and the staging tables. */
  async connect(): Promise<void> {
    if (this.#client) return;
    const statementMs = this.#options.statementTimeoutMs;
    const client = new pg.Client({
      connectionString: this.#options.url,
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      keepAlive: true,
      // The server cancels a statement past statement_timeout; this client-side limit, a little
      // later, is for a link that hangs and would never deliver that cancel.
      query_timeout: statementMs + Math.min(1000, Math.max(100, statementMs / 4)),
      application_name: `sluice sync ${this.#options.nodeId}`.slice(0, 63),
    });
    // A backend terminated while idle reports here; the next query fails and the shipper reconnects.
    client.on('error', () => {
      if (this.#client === client) this.#client = undefined;
    });
    try {
      await client.connect().catch((error: Error) => {
        throw /timeout/i.test(error.message)
          ? new TargetStalledError(`no answer from the sync target within connectTimeoutMs (${this.#options.connectTimeoutMs} ms)`, {
              cause: error,
            })
          : error;
      });
      await stalls(client.query(`set statement_timeout = ${Math.round(statementMs)}`), statementMs);
      await stalls(prepareTarget(client, this.#options, OFFSETS_TABLE), statementMs);
      // Made outside any batch's transaction, so a rolled-back batch cannot take them away.
      for (const planned of this.#plans.values()) {
        await stalls(
          client.query(`create temp table if not exists ${quoteIdentifier(planned.stage)} (like ${quoteIdentifier(planned.def.name)})`),
          statementMs,
        );
      }
    } catch (error) {
      await endClient(client);
      throw error;
    }
    this.#client = client;
  }

  /** Takes the node's shipping lock for a round; false when another session holds it. */
  async lock(): Promise<boolean> {
    const { rows } = await this.#query('select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok', [
      'sluice.sync',
      this.#options.nodeId,
    ]);
    return rows[0]?.ok === true;
  }

  /** Lets the lock go at the end of a round (a lost connection has let it go already). */
  async unlock(): Promise<void> {
    if (!this.#client) return;
    await this.#query('select pg_advisory_unlock(hashtext($1), hashtext($2))', ['sluice.sync', this.#options.nodeId]);
  }

  /** This node's mark and lineage on the target, as committed now. */
  async mark(): Promise<TargetMark> {
    const { rows } = await this.#query(`select seq, lineage from ${OFFSETS_TABLE} where node_id = $1`, [this.#options.nodeId]);
    return rows.length === 0 ? { seq: 0, lineage: null } : { seq: Number(rows[0].seq), lineage: rows[0].lineage ?? null };
  }

  /**
   * Applies a batch and advances the mark and the lineage in one transaction, only if both still
   * stand where the batch expects them (`after`, `lineage`). Refused rows are isolated by bisection
   * inside savepoints; if any are found the whole transaction is rolled back and they are
   * reported, so the caller can set them aside and ship the rest as a fresh batch.
   */
  async apply<T extends TargetChange>(batch: ShipBatch<T>): Promise<ApplyResult<T>> {
    try {
      return await this.#apply(batch, false);
    } catch (error) {
      // The fast path runs without savepoints (a subtransaction per batch costs every row); a
      // refusal aborted it whole, so the batch runs again with each part in its own savepoint.
      if (!isRowRefusal(error)) throw error;
      return this.#apply(batch, true);
    }
  }

  async #apply<T extends TargetChange>(batch: ShipBatch<T>, isolate: boolean): Promise<ApplyResult<T>> {
    const client = this.#require();
    await this.#query('begin');
    try {
      const { rows } = await this.#query(`select seq, lineage from ${OFFSETS_TABLE} where node_id = $1 for update`, [this.#options.nodeId]);
      const mark: TargetMark =
        rows.length === 0 ? { seq: 0, lineage: null } : { seq: Number(rows[0].seq), lineage: rows[0].lineage ?? null };
      if (mark.seq !== batch.after || mark.lineage !== batch.lineage) {
        await this.#query('rollback');
        return { kind: 'moved', mark };
      }
      const refused: Refused<T>[] = [];
      let upserts = 0;
      let deletes = 0;
      for (const [table, entry] of byTable(batch.items)) {
        const planned = this.#plans.get(table);
        if (!planned)
          throw new SluiceError('CONFIG', `The outbox holds changes of ${table}, which is not among the synced tables passed to open().`, {
            table,
          });
        if (entry.deletes.length > 0) {
          if (isolate) await this.#bisect(client, entry.deletes, (items) => this.#delete(planned, items), refused);
          else await this.#delete(planned, entry.deletes);
          deletes += entry.deletes.length;
        }
        if (entry.upserts.length > 0) {
          if (isolate) await this.#bisect(client, entry.upserts, (items) => this.#upsert(client, planned, items), refused);
          else await this.#upsert(client, planned, entry.upserts);
          upserts += entry.upserts.length;
        }
      }
      if (refused.length > 0) {
        await this.#query('rollback');
        return { kind: 'refused', refused };
      }
      await this.#query(`update ${OFFSETS_TABLE} set seq = $2, lineage = $3, updated_at = now() where node_id = $1`, [
        this.#options.nodeId,
        batch.last,
        batch.next,
      ]);
      await this.#query('commit');
      return { kind: 'applied', upserts, deletes };
    } catch (error) {
      await rollback(client, error);
      throw error;
    }
  }

  /** Tries the items in one savepoint; on a refusal, splits them in halves until each bad row is alone. */
  async #bisect<T extends TargetChange>(
    client: pg.Client,
    items: readonly T[],
    run: (items: readonly T[]) => Promise<void>,
    refused: Refused<T>[],
  ): Promise<void> {
    await this.#query('savepoint sluice_part');
    try {
      await run(items);
      await this.#query('release savepoint sluice_part');
    } catch (error) {
      if (!isRowRefusal(error)) throw error;
      await this.#query('rollback to savepoint sluice_part');
      await this.#query('release savepoint sluice_part');
      if (items.length === 1) {
        refused.push({ item: items[0] as T, ...rowRefusal(error) });
        return;
      }
      const half = Math.ceil(items.length / 2);
      await this.#bisect(client, items.slice(0, half), run, refused);
      await this.#bisect(client, items.slice(half), run, refused);
    }
  }

  async #upsert(client: pg.Client, planned: TablePlan, items: readonly TargetChange[]): Promise<void> {
    await this.#query(`truncate ${quoteIdentifier(planned.stage)}`);
    const copying = new Promise<void>((resolve, reject) => {
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
    await stalls(copying, this.#options.statementTimeoutMs);
    await this.#query(planned.upsert);
  }

  async #delete(planned: TablePlan, items: readonly TargetChange[]): Promise<void> {
    const pk = planned.def.primaryKey;
    const arrays = pk.map((column, i) => items.map((item) => keyParam(column.type, item.key[i])));
    await this.#query(planned.delete, arrays);
  }

  /** One statement; a client-side timeout (the link hangs) reads as a stall, not as an outage. */
  #query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    return stalls(this.#require().query(text, values), this.#options.statementTimeoutMs);
  }

  #require(): pg.Client {
    if (!this.#client) throw new SluiceError('UNAVAILABLE', 'The sync target is not connected.');
    return this.#client;
  }

  /** Drops the connection (and with it the node lock and the temporary tables). */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await endClient(client);
  }
}

function byTable<T extends TargetChange>(items: readonly T[]): Map<string, { upserts: T[]; deletes: T[] }> {
  const tables = new Map<string, { upserts: T[]; deletes: T[] }>();
  for (const item of items) {
    let entry = tables.get(item.table);
    if (!entry) {
      entry = { upserts: [], deletes: [] };
      tables.set(item.table, entry);
    }
    (item.row === undefined ? entry.deletes : entry.upserts).push(item);
  }
  return tables;
}

/** Ends the session, and cuts the socket if the goodbye goes unanswered (a hung link never answers it). */
async function endClient(client: pg.Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      resolve();
    }, 500);
  });
  await Promise.race([client.end().catch(() => {}), cut]);
  clearTimeout(timer);
}
