import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SluiceError } from '../../core/sluice-error.js';
import { prepareTarget } from './postgres-sync-ddl.js';
import { endClient, isRowRefusal, rollback, rowRefusal, stalls, TargetStalledError } from './postgres-sync-errors.js';
import {
  byTable,
  copiesOf,
  copyText,
  keyParam,
  keysOf,
  plan,
  type TableCopy,
  type TablePlan,
  type TargetChange,
} from './postgres-sync-plan.js';
import type { ApplyResult, Refused, ShipBatch, SyncTargetOptions, TargetMark } from './postgres-sync-types.js';
import { quoteIdentifier } from './postgres-types.js';

/** The advisory lock's first key (hashed) for a node's shipping rounds; the second is the node id. */
export const SHIPPING_LOCK = 'sluice.sync';
export const OFFSETS_TABLE = '_sluice_sync_offsets';

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

  /** Takes the node's shipping lock for a round (SHIPPING_LOCK, the node id); false when another session holds it. */
  async lock(): Promise<boolean> {
    const { rows } = await this.#query('select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok', [
      SHIPPING_LOCK,
      this.#options.nodeId,
    ]);
    return rows[0]?.ok === true;
  }

  /** Lets the lock go at the end of a round (a lost connection has let it go already). */
  async unlock(): Promise<void> {
    if (!this.#client) return;
    await this.#query('select pg_advisory_unlock(hashtext($1), hashtext($2))', [SHIPPING_LOCK, this.#options.nodeId]);
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
      const tables = batch.tables ?? copiesOf(await batch.items(), this.#plans);
      const applied = await this.#applyCopies(batch, tables);
      // The mark was not where the batch expects it, or its row is missing: the careful path decides.
      return applied ?? (await this.#apply(batch, copiesOf(await batch.items(), this.#plans)));
    } catch (error) {
      // The fast path runs without savepoints (a subtransaction per batch costs every row); a
      // refusal aborted it whole, so the batch runs again with each part in its own savepoint.
      if (!isRowRefusal(error)) throw error;
      return this.#apply(batch, undefined);
    }
  }

  /**
   * The fast path, in three round trips for a batch of one table: the mark moved by
   * compare-and-set (its row locked until COMMIT) with the staging tables emptied, the COPY, and
   * the upsert with the COMMIT. Undefined when the compare-and-set matched no row: rolled back.
   */
  async #applyCopies(batch: ShipBatch<TargetChange>, tables: readonly TableCopy[]): Promise<ApplyResult<never> | undefined> {
    const client = this.#require();
    const planned = tables.map((t) => this.#plan(t.table));
    const literal = (value: string) => client.escapeLiteral(value);
    const lineage = batch.lineage === null ? 'lineage IS NULL' : `lineage = ${literal(batch.lineage)}`;
    const stages = planned.map((p) => quoteIdentifier(p.stage)).join(', ');
    const changes = tables.reduce((sum, t) => sum + t.upserts + t.deletes.length, 0);
    try {
      const opened = (await this.#query(
        `BEGIN; UPDATE ${OFFSETS_TABLE} SET seq = ${batch.last}, lineage = ${literal(batch.next)}, changes = changes + ${changes}, updated_at = now() WHERE node_id = ${literal(this.#options.nodeId)} AND seq = ${batch.after} AND ${lineage}${stages === '' ? '' : `; TRUNCATE ${stages}`}`,
      )) as unknown as pg.QueryResult[];
      if (opened[1]?.rowCount !== 1) {
        await this.#query('rollback');
        return undefined;
      }
      let upserts = 0;
      let deletes = 0;
      for (let i = 0; i < tables.length; i++) {
        const table = tables[i] as TableCopy;
        const plan = planned[i] as TablePlan;
        if (table.deletes.length > 0) await this.#delete(plan, table.deletes);
        if (table.copy !== undefined) await this.#copy(client, plan, table.copy);
        const upsert = table.copy === undefined ? undefined : plan.upsert;
        if (i < tables.length - 1) {
          if (upsert !== undefined) await this.#query(upsert);
        } else {
          const committing = this.#query(upsert === undefined ? 'COMMIT' : `${upsert}; COMMIT`);
          batch.meanwhile?.();
          await committing;
        }
        upserts += table.upserts;
        deletes += table.deletes.length;
      }
      if (tables.length === 0) await this.#query('COMMIT');
      return { kind: 'applied', upserts, deletes, isolated: false };
    } catch (error) {
      await rollback(client, error);
      throw error;
    }
  }

  /**
   * The careful path: the mark read under a row lock and compared, each table's deletes and
   * upserts in turn; with `tables` undefined, the items are isolated by bisection, each part in a
   * savepoint.
   */
  async #apply<T extends TargetChange>(batch: ShipBatch<T>, tables: readonly TableCopy[] | undefined): Promise<ApplyResult<T>> {
    const client = this.#require();
    const items = tables === undefined ? await batch.items() : [];
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
      if (tables !== undefined) {
        for (const table of tables) {
          const plan = this.#plan(table.table);
          if (table.deletes.length > 0) await this.#delete(plan, table.deletes);
          if (table.copy !== undefined) await this.#upsert(client, plan, table.copy);
          upserts += table.upserts;
          deletes += table.deletes.length;
        }
      }
      for (const [table, entry] of byTable(items)) {
        const plan = this.#plan(table);
        if (entry.deletes.length > 0) await this.#bisect(client, entry.deletes, (part) => this.#delete(plan, keysOf(part)), refused);
        if (entry.upserts.length > 0) {
          await this.#bisect(client, entry.upserts, (part) => this.#upsert(client, plan, copyText(part, plan)), refused);
        }
        deletes += entry.deletes.length;
        upserts += entry.upserts.length;
      }
      if (refused.length > 0) {
        await this.#query('rollback');
        return { kind: 'refused', refused };
      }
      await this.#query(
        `update ${OFFSETS_TABLE} set seq = $2, lineage = $3, changes = changes + $4, updated_at = now() where node_id = $1`,
        [this.#options.nodeId, batch.last, batch.next, upserts + deletes],
      );
      await this.#query('commit');
      return { kind: 'applied', upserts, deletes, isolated: tables === undefined };
    } catch (error) {
      await rollback(client, error);
      throw error;
    }
  }

  #plan(table: string): TablePlan {
    const planned = this.#plans.get(table);
    if (!planned)
      throw new SluiceError('CONFIG', `The outbox holds changes of ${table}, which is not among the synced tables passed to open().`, {
        table,
      });
    return planned;
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

  async #upsert(client: pg.Client, planned: TablePlan, copy: Buffer | string): Promise<void> {
    await this.#query(`truncate ${quoteIdentifier(planned.stage)}`);
    await this.#copy(client, planned, copy);
    await this.#query(planned.upsert);
  }

  /** COPYs the text into the (empty) staging table. */
  async #copy(client: pg.Client, planned: TablePlan, copy: Buffer | string): Promise<void> {
    const copying = new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom(planned.copy));
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(copy);
    });
    await stalls(copying, this.#options.statementTimeoutMs);
  }

  async #delete(planned: TablePlan, keys: readonly (readonly unknown[])[]): Promise<void> {
    const pk = planned.def.primaryKey;
    const arrays = pk.map((column, i) => keys.map((key) => keyParam(column.type, key[i])));
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
