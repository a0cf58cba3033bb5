import type { Table } from '../api/table.js';
import { SluiceError } from '../core/sluice-error.js';
import type { SqliteOutbox } from '../dialect/sqlite/sqlite-outbox.js';
import type { NodeRecord } from './node-lineage.js';
import { type ResyncCursor, ResyncPager } from './resync.js';
import type { syncNodeTable } from './sync-tables.js';

type NodeTable = Table<typeof syncNodeTable>;

/**
 * This file's node row, as one process sees it: which node id it ships under, what it forked
 * from, and the resync still due. Every write to the row is a compare-and-set on the node id, so
 * a process that missed a fork (another process sharing the file made it) cannot write its stale
 * marks into the new node's row; it finds out (false) and reloads.
 */
export class NodeIdentity {
  readonly #node: NodeTable;
  /** Reads the row on the reader connection directly, which close() keeps open while sync drains. */
  readonly #reader: Pick<SqliteOutbox, 'nodeRow'>;
  nodeId: string | undefined;
  forkedFrom: string | undefined;
  resync: ResyncCursor | undefined;
  /** Forks since open. */
  forks = 0;

  constructor(node: NodeTable, reader: Pick<SqliteOutbox, 'nodeRow'>) {
    this.#node = node;
    this.#reader = reader;
  }

  /** The row, created on first use; undefined until migrate() has created the sync tables (and this version's columns). */
  async load(): Promise<NodeRecord | undefined> {
    let row = await this.#reader.nodeRow();
    if (row === 'no-table') return undefined;
    if (row !== 'no-row') return row as unknown as NodeRecord;
    try {
      await this.#node.insert({ id: 1, nodeId: crypto.randomUUID(), ackedSeq: 0, createdAt: new Date() });
    } catch (error) {
      // Another process sharing the file created it first.
      if (!(SluiceError.is(error) && error.code === 'CONSTRAINT')) throw error;
    }
    row = await this.#reader.nodeRow();
    if (row === 'no-row' || row === 'no-table')
      throw new SluiceError('UNAVAILABLE', 'The sync node row vanished right after it was created; open the database again.');
    return row as unknown as NodeRecord;
  }

  /** A fresh read of the row (undefined before migrate, or before the row exists). */
  async read(): Promise<NodeRecord | undefined> {
    const row = await this.#reader.nodeRow();
    return typeof row === 'string' ? undefined : (row as unknown as NodeRecord);
  }

  /** Takes the row as this process's view; true when the node id changed (a fork made elsewhere). */
  adopt(row: NodeRecord): boolean {
    const changed = this.nodeId !== undefined && this.nodeId !== row.nodeId;
    this.nodeId = row.nodeId;
    this.forkedFrom = row.forkedFrom ?? undefined;
    this.resync = ResyncPager.parse(row.resync);
    return changed;
  }

  /** Before a batch is sent: the token it will leave on the target, and the mark it sets. */
  recordIntent(lineage: string | null, mark: number, intent: string, intentSeq: number): Promise<boolean> {
    return this.#write({ lineage, ackedSeq: mark, intent, intentSeq });
  }

  /** What the target holds now, as this file last saw it. */
  recordMark(lineage: string | null, mark: number): Promise<boolean> {
    return this.#write({ lineage, ackedSeq: mark });
  }

  saveResync(cursor: ResyncCursor | undefined): Promise<boolean> {
    this.resync = cursor;
    return this.#write({ resync: cursor === undefined ? null : JSON.stringify(cursor) });
  }

  /**
   * Takes a new node id in one write: the old one kept as forkedFrom, no mark, no lineage, and the
   * resync from its start. False when the row changed meanwhile (another process forked first).
   */
  async fork(from: NodeRecord, resync: ResyncCursor | undefined): Promise<string | undefined> {
    const nodeId = crypto.randomUUID();
    const patch = {
      nodeId,
      forkedFrom: from.nodeId,
      ackedSeq: 0,
      lineage: null,
      intent: null,
      intentSeq: null,
      resync: resync === undefined ? null : JSON.stringify(resync),
    };
    if (!(await this.#write(patch, from.nodeId))) return undefined;
    this.nodeId = nodeId;
    this.forkedFrom = from.nodeId;
    this.resync = resync;
    this.forks++;
    return nodeId;
  }

  async #write(patch: Parameters<NodeTable['update']>[1], nodeId = this.nodeId): Promise<boolean> {
    try {
      // High priority: the shipper waits on these between batches, behind no application write.
      await this.#node.update(1, patch, { where: { nodeId: nodeId as string }, priority: 'high' });
      return true;
    } catch (error) {
      if (SluiceError.is(error) && error.code === 'CONFLICT') return false;
      throw error;
    }
  }
}
