import type { LocalFigures } from './local-outbox.js';
import type { NodeIdentity } from './node-identity.js';
import type { SyncStatus, TargetState } from './sync-api.js';

/** A set that counts its changes, so a figure derived from it knows when to count again. */
class VersionedSet extends Set<number> {
  version = 0;

  override add(value: number): this {
    this.version++;
    return super.add(value);
  }

  override delete(value: number): boolean {
    this.version++;
    return super.delete(value);
  }

  override clear(): void {
    this.version++;
    super.clear();
  }
}

/** The shipper's running figures, shared by the loop and the round that ships. */
export class SyncFigures {
  /** The target's mark for this node, as last seen or set. */
  mark = 0;
  /** The outbox as of the last look. */
  local: LocalFigures = { maxSeq: 0, oldestSeq: undefined, oldestAt: undefined };
  /** Seqs of the dead letters; only the shipper holding the node's lock makes or retries them. */
  readonly dead = new VersionedSet();
  /** Changes queued since the last look at the outbox (captured writes, retry, a resync page). */
  capturedSince = 0;
  #target: TargetState = 'down';
  /** Told of every look at the target (the log tells the changes), with why it failed if it did. */
  onTarget: ((to: TargetState, lastError: string | undefined) => void) | undefined;
  lastError: string | undefined;
  /** What the target said about the dead letters; shown while any wait. */
  deadLetterNote: string | undefined;
  failed = 0;
  shipped = 0;
  lastBatch: { size: number; ms: number } | undefined;
  syncing = false;

  get target(): TargetState {
    return this.#target;
  }

  /** Set after lastError, so a failing state is told with its cause. */
  set target(to: TargetState) {
    this.#target = to;
    this.onTarget?.(to, this.lastError);
  }

  /** Changes waiting: seqs run gap-free from the first pending one, less the dead letters among them. */
  pending(): number {
    const oldest = this.local.oldestSeq;
    if (oldest === undefined) return this.capturedSince;
    return Math.max(0, this.local.maxSeq - oldest + 1 - this.#deadFrom(oldest)) + this.capturedSince;
  }

  /** Asked on every write to a synced table (the admission): counted again only when it can have changed. */
  #deadCount = { from: -1, version: -1, count: 0 };

  #deadFrom(oldest: number): number {
    const cached = this.#deadCount;
    if (cached.from === oldest && cached.version === this.dead.version) return cached.count;
    let count = 0;
    for (const seq of this.dead) if (seq >= oldest) count++;
    this.#deadCount = { from: oldest, version: this.dead.version, count };
    return count;
  }

  /** Dead letters numbered at or below `seq`. */
  deadUpTo(seq: number): number {
    let n = 0;
    for (const d of this.dead) if (d <= seq) n++;
    return n;
  }

  /** Dead letters no longer block anything, but they are not synced: progress leaves them out. */
  status(identity: NodeIdentity): SyncStatus {
    const total = Math.max(this.local.maxSeq, this.mark) + this.capturedSince;
    const pending = this.pending();
    const oldestAt = this.local.oldestAt;
    return {
      nodeId: identity.nodeId,
      forkedFrom: identity.forkedFrom,
      forks: identity.forks,
      resyncing: identity.resync !== undefined,
      total,
      synced: this.mark,
      pending,
      failed: this.failed,
      deadLetters: this.dead.size,
      progress: total === 0 ? 1 : Math.min(1, Math.max(0, this.mark - this.deadUpTo(this.mark)) / total),
      lagMs: pending === 0 || oldestAt === undefined ? 0 : Math.max(0, Date.now() - oldestAt),
      syncing: this.syncing,
      target: this.target,
      lastError: this.lastError ?? (this.dead.size > 0 ? this.deadLetterNote : undefined),
      lastBatch: this.lastBatch,
      shippedRows: this.shipped,
    };
  }
}
