import type { Table } from '../api/table.js';
import { SluiceError } from '../core/sluice-error.js';
import type { PostgresSyncTarget } from '../dialect/postgres/postgres-sync-target.js';
import type { Refused } from '../dialect/postgres/postgres-sync-types.js';
import type { WriteGate } from '../gate/write-gate.js';
import type { RowCodec } from '../schema/row-codec.js';
import { ShipperLockedError } from './failed-attempt.js';
import type { LocalOutbox, OutboxBatch, ShipItem } from './local-outbox.js';
import type { NodeIdentity } from './node-identity.js';
import { judge, type NodeRecord, newToken, sameRecord } from './node-lineage.js';
import type { ResyncPager } from './resync.js';
import type { ShipTrigger } from './ship-trigger.js';
import type { SyncFigures } from './sync-figures.js';
import type { SyncLog } from './sync-log.js';
import type { ShipperMetrics } from './sync-metrics.js';
import type { SyncOptions } from './sync-options.js';
import type { syncOutboxTable } from './sync-tables.js';

/** What a round needs from the shipper that runs it. */
export interface RoundHost {
  readonly options: SyncOptions;
  readonly figures: SyncFigures;
  readonly identity: NodeIdentity;
  readonly local: LocalOutbox;
  readonly resync: ResyncPager;
  readonly gate: WriteGate;
  readonly outbox: Table<typeof syncOutboxTable>;
  readonly outboxCodec: RowCodec;
  readonly metrics: ShipperMetrics;
  readonly log: SyncLog;
  report(error: unknown): void;
  /** Tells the application's own onError of a notice (a fork), beside the log. */
  notify(error: unknown): void;
  /** Rereads the node row and the outbox figures. */
  refresh(): Promise<void>;
  /** Takes a node row as the truth; true when the node id changed under this process. */
  see(row: NodeRecord): Promise<boolean>;
  /** Drops the target connection (after a fork: the old node's lock goes with it). */
  dropTarget(): Promise<void>;
  /** The trigger that holds now (count, age, flush, drain, resync), or undefined: nothing to ship. */
  trigger(): ShipTrigger | undefined;
  /** The database is closing and the drain time is over. */
  mustStop(): boolean;
  /** The resync finished: flushes waiting for it now cover the rows it queued. */
  resyncDone(): void;
}

/** The round's answer when this file's node id changed under it: start over under the new one. */
const CHANGED = Symbol('changed');

/**
 * One shipping round, under the node's lock on the target: check that the target's record of
 * this node is this file's own (else fork), then queue a resync page when one is due and ship
 * batches while a trigger holds. Before each batch the file records the token the batch will
 * leave on the target (its intent); the target takes the batch only where its mark and token are
 * still what this file last saw. So a crash at any moment leaves the target holding a token the
 * file knows, and a copy of the file, which never saw this one's later tokens, finds out.
 */
export class ShipRound {
  readonly #host: RoundHost;
  #cleanup: Promise<void> = Promise.resolve();
  /** The mark up to which outbox rows may go once the target is busy with the next batch. */
  #trimDue: number | undefined;

  constructor(host: RoundHost) {
    this.#host = host;
  }

  /** Runs one round; true when the next should start at once (a fork, a node id changed). */
  async run(target: PostgresSyncTarget): Promise<boolean> {
    if (!(await target.lock())) return this.#lockedOut(target);
    try {
      const lineage = await this.#reconcile(target);
      if (lineage === CHANGED) {
        await this.#host.dropTarget();
        return true;
      }
      const last = await this.#shipBatches(target, lineage);
      if (last !== lineage) await this.#host.identity.recordMark(last, this.#host.figures.mark);
      this.#trimDueNow();
      await this.#cleanup;
      await target.unlock();
      return false;
    } catch (error) {
      // The lock goes with the connection; the next round connects afresh (and trims from its mark).
      this.#trimDue = undefined;
      await this.#cleanup;
      await this.#host.dropTarget();
      throw error;
    }
  }

  /** The target's lineage to ship on from, or CHANGED when this file forked (or found it had). */
  async #reconcile(target: PostgresSyncTarget): Promise<string | null | typeof CHANGED> {
    const host = this.#host;
    const row = await host.identity.read();
    if (!row) throw new SluiceError('UNAVAILABLE', 'The sync node row is missing; run db.migrate().');
    if ((await host.see(row)) || row.nodeId !== target.nodeId) return CHANGED;
    const there = await target.mark();
    const numbered = Math.max(await host.local.maxSeq(), row.ackedSeq, row.intentSeq ?? 0);
    const verdict = judge(row, there, numbered);
    if (verdict.kind === 'fork') {
      await this.#fork(row, verdict.reason);
      return CHANGED;
    }
    if (verdict.mark !== row.ackedSeq || verdict.lineage !== row.lineage) {
      // The file never heard back about its last COMMIT: record it now.
      if (!(await host.identity.recordMark(verdict.lineage, verdict.mark))) return CHANGED;
    }
    host.figures.mark = verdict.mark;
    this.#trimLater(verdict.mark);
    return verdict.lineage;
  }

  /**
   * Another session holds the node's lock. A process sharing this file only ever leaves tokens
   * on the target that it wrote into the file first; so if the file's row did not move while the
   * target was read, and the target's token is still not one of the file's, the holder is a copy.
   */
  async #lockedOut(target: PostgresSyncTarget): Promise<boolean> {
    const host = this.#host;
    const before = await host.identity.read();
    const there = await target.mark();
    const after = await host.identity.read();
    if (before && after && sameRecord(before, after) && after.nodeId === host.identity.nodeId) {
      const numbered = Math.max(await host.local.maxSeq(), after.ackedSeq, after.intentSeq ?? 0);
      const verdict = judge(after, there, numbered);
      if (verdict.kind === 'fork') {
        await this.#fork(after, `${verdict.reason} (found while that copy held the node's shipping lock)`);
        return true;
      }
    }
    throw new ShipperLockedError(`another process is shipping node ${target.nodeId} to this target; this one waits`);
  }

  async #fork(row: NodeRecord, reason: string): Promise<void> {
    const host = this.#host;
    const nodeId = await host.identity.fork(row, host.resync.start());
    // Someone else changed the row first: the next round reads it.
    if (nodeId === undefined) return;
    host.figures.mark = 0;
    host.metrics.forks.inc();
    host.log.fork(nodeId, row.nodeId, reason);
    await host.dropTarget();
    host.notify(
      new SluiceError(
        'CONFLICT',
        `Sync: this file now ships as node ${nodeId}, forked from ${row.nodeId}: ${reason}. A cloned VM, a restored backup or a moved disk makes two files with one node id; this one took a new id and ships every current row of its synced tables again (the target keeps the last state of each key). Nothing is lost.`,
      ),
    );
  }

  /** Ships batches while a trigger holds; resolves with the lineage the target holds after the last. */
  async #shipBatches(target: PostgresSyncTarget, lineage: string | null): Promise<string | null> {
    const host = this.#host;
    const figures = host.figures;
    const size = host.options.batchSize;
    let expected = lineage;
    let next: Promise<OutboxBatch | undefined> | undefined;
    for (;;) {
      if (host.mustStop()) return expected;
      if (host.identity.resync !== undefined && figures.pending() < size && !(await this.#resyncPage())) return expected;
      await host.refresh();
      const trigger = host.trigger();
      if (host.identity.nodeId !== target.nodeId || trigger === undefined) return expected;
      const batch = await (next ?? host.local.batch(figures.mark, size));
      next = undefined;
      if (!batch) {
        if (host.identity.resync !== undefined) continue;
        return expected;
      }
      const token = newToken();
      if (!(await host.identity.recordIntent(expected, figures.mark, token, batch.last))) return expected;
      const started = performance.now();
      figures.syncing = true;
      try {
        const prefetch = { next: undefined as Promise<OutboxBatch | undefined> | undefined };
        const applying = target.apply({
          after: figures.mark,
          lineage: expected,
          last: batch.last,
          next: token,
          tables: batch.tables,
          items: batch.items,
          // Read the next batch while the target works. Reading later than this batch did, it
          // holds each key's state at least as new, so it may follow this one whatever it becomes.
          meanwhile: () => {
            // The last batch's rows go now, not before this batch's intent: that waits on the writer.
            this.#trimDueNow();
            if (host.identity.resync !== undefined) return;
            prefetch.next = host.local.batch(batch.last, size);
            prefetch.next.catch(() => {});
          },
        });
        const result = await applying;
        // Items read after the prefetch (a refusal to isolate) may be newer than it: it goes.
        next = result.kind === 'applied' && !result.isolated ? prefetch.next : undefined;
        // The target moved under the lock (a copy took it between rounds): the next round decides.
        if (result.kind === 'moved') return expected;
        if (result.kind === 'refused') {
          figures.failed++;
          host.metrics.failures.inc({ reason: 'refused' });
          await this.#deadLetter(result.refused);
          continue;
        }
        expected = token;
        this.#applied(batch, performance.now() - started, trigger);
      } finally {
        figures.syncing = false;
      }
    }
  }

  #applied(batch: OutboxBatch, ms: number, trigger: ShipTrigger): void {
    const figures = this.#host.figures;
    figures.mark = batch.last;
    figures.shipped += batch.rows;
    figures.lastError = undefined;
    figures.target = 'up';
    figures.lastBatch = { size: batch.rows, ms: Math.round(ms * 10) / 10 };
    this.#host.metrics.shipped.inc(batch.rows);
    this.#host.metrics.batch.observe(ms / 1000);
    this.#host.log.batch(trigger, batch.rows, ms);
    this.#trimDue = batch.last;
  }

  /** Queues the next page of the resync; false when the node row changed under this process. */
  async #resyncPage(): Promise<boolean> {
    const host = this.#host;
    const cursor = host.identity.resync;
    if (cursor === undefined) return true;
    const page = await host.resync.page(cursor, Math.min(host.options.batchSize, 10_000), host.gate, host.outboxCodec);
    host.figures.capturedSince += page.queued;
    if (!(await host.identity.saveResync(page.next))) return false;
    if (page.next === undefined) host.resyncDone();
    return true;
  }

  /**
   * The target has the changes up to `mark`: the outbox rows below it go, in the background and
   * in order. Losing that to a crash is harmless: the next round trims again. The row at the mark
   * stays, so SQLite numbers new rows after it.
   */
  #trimLater(mark: number): void {
    const outbox = this.#host.outbox;
    this.#cleanup = this.#cleanup
      .then(async () => {
        await outbox.deleteWhere({ seq: { $lt: mark }, error: { $null: true } }, { batchSize: 20_000 });
      })
      .catch((error) => this.#host.report(error));
  }

  /** Trims up to the last applied batch's mark, if not done yet. */
  #trimDueNow(): void {
    const mark = this.#trimDue;
    this.#trimDue = undefined;
    if (mark !== undefined) this.#trimLater(mark);
  }

  async #deadLetter(refused: readonly Refused<ShipItem>[]): Promise<void> {
    const host = this.#host;
    const failedAt = Date.now();
    const updates: Promise<unknown>[] = [];
    for (const { item, error } of refused) {
      for (const seq of item.seqs) updates.push(host.outbox.update(seq, { error: error.slice(0, 2000), failedAt }));
    }
    await Promise.all(updates);
    for (const { item } of refused) for (const seq of item.seqs) host.figures.dead.add(seq);
    host.log.deadLetters(
      refused.map((r) => ({
        table: r.item.table,
        changes: r.item.seqs.length,
        error: r.error,
        sqlState: r.sqlState,
        constraint: r.constraint,
      })),
    );
    host.figures.deadLetterNote = `The target refused ${refused.length} row(s); they are dead letters (db.sync.deadLetters(), then db.sync.retry()). First: ${refused[0]?.error}`;
  }
}
