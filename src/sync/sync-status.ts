import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LocalFigures } from './local-outbox.js';
import type { NodeIdentity } from './node-identity.js';

/**
 * How the target answered last:
 * - `up`: it answered the last statement or connection attempt;
 * - `down`: no connection (refused, unreachable, or lost);
 * - `stalled`: connected, or connecting, but no answer within `sync.statementTimeoutMs` (or
 *   `sync.connectTimeoutMs` for a connection);
 * - `refusing`: it answers but rejects the statement itself (SQLSTATE class 42, 0A, 28, 3D or 3F: a
 *   missing column or table, a syntax error such as the openGauss upsert sent to PostgreSQL, no
 *   privilege, a wrong database). A configuration error: retried every `sync.backoffMaxMs`, not at
 *   full speed, and flush() rejects with CONFIG.
 */
export type TargetState = 'up' | 'down' | 'stalled' | 'refusing';

export const TARGET_STATES: readonly TargetState[] = ['up', 'down', 'stalled', 'refusing'];

/**
 * `db.sync.status()`: the shipper's figures, as of its last look at the file and the target.
 *
 * Counts are of **changes**, not rows: a change is one key written in one committed batch of the
 * write gate (several writes to a key in one group commit make one change; a deleteWhere of 500
 * rows makes 500). A resync after a fork adds one change per current row.
 */
export interface SyncStatus {
  /** The node id this file ships under now (undefined until migrate has created the sync tables). */
  nodeId: string | undefined;
  /** The node id this file shipped under before it last forked (a copied or restored file). */
  forkedFrom: string | undefined;
  /** Forks since open (also `sluice_sync_forks_total`). */
  forks: number;
  /** A fork's resync is queueing this file's current rows; flush() waits for it. */
  resyncing: boolean;
  /** Changes captured in this file, ever (the largest sequence number). */
  total: number;
  /** The target's mark for this node: every change numbered up to it was applied or set aside as a dead letter. */
  synced: number;
  /** Changes waiting to ship. */
  pending: number;
  /** Ship attempts that failed since open (target down, stalled or refusing, a batch refused). */
  failed: number;
  /** Changes the target refused, set aside until retry(). */
  deadLetters: number;
  /** Changes applied on the target / total: dead letters count as not synced. 1 when nothing was ever captured. */
  progress: number;
  /** Age of the oldest pending change, ms; 0 when none waits. */
  lagMs: number;
  /** A batch is on its way now. */
  syncing: boolean;
  target: TargetState;
  /** Why the last attempt failed; cleared by the next successful ship (dead letters keep their note while they wait). */
  lastError: string | undefined;
  lastBatch: { size: number; ms: number } | undefined;
  /** Changes shipped since open. */
  shippedRows: number;
}

/** What flush() did for the changes committed before it was called. */
export interface FlushResult {
  /** Changes the shipper applied on the target while the flush waited. */
  shipped: number;
  /** Changes committed before the call that sit in dead letters now (db.sync.deadLetters(), retry()). */
  deadLettered: number;
}

export interface DeadLetter {
  seq: number;
  table: string;
  /** The primary key as stored locally, in primary-key order. */
  key: unknown;
  /** The target's error. */
  error: string;
  failedAt: Date | undefined;
}

/** `db.sync`: the shipper's public face. */
export interface SyncApi {
  status(): SyncStatus;
  /**
   * Ships everything committed before the call (and, after a fork, the resync of the current
   * rows). Rejects with UNAVAILABLE when the target cannot be reached or does not answer, with
   * CONFIG when it refuses the statements themselves.
   */
  flush(options?: { onProgress?: (shipped: number, total: number) => void }): Promise<FlushResult>;
  /** Puts dead letters back in the queue (their keys' current state ships again); resolves with how many. */
  retry(): Promise<number>;
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
}

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
  target: TargetState = 'down';
  lastError: string | undefined;
  /** What the target said about the dead letters; shown while any wait. */
  deadLetterNote: string | undefined;
  failed = 0;
  shipped = 0;
  lastBatch: { size: number; ms: number } | undefined;
  syncing = false;

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

export interface ShipperMetrics {
  readonly shipped: Counter;
  readonly batch: Histogram;
  readonly failures: Counter<'reason'>;
  readonly forks: Counter;
}

/** The shipper's metrics; gauges read `status()` when scraped. */
export function registerSyncMetrics(registry: Registry, status: () => SyncStatus): ShipperMetrics {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('sluice_sync_pending', 'Changes waiting in the outbox to ship.', () => status().pending);
  gauge('sluice_sync_lag_seconds', 'Age of the oldest pending change.', () => status().lagMs / 1000);
  gauge('sluice_sync_dead_letters', 'Changes the target refused, set aside until retry.', () => status().deadLetters);
  gauge('sluice_sync_target_up', "1 while the sync target answers (target state 'up'), else 0.", () => (status().target === 'up' ? 1 : 0));
  gauge('sluice_sync_synced', "The target's acknowledged mark for this node.", () => status().synced);
  new Gauge({
    name: 'sluice_sync_target_state',
    help: "The sync target's state: 1 for the current one of up, down, stalled, refusing.",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = status().target;
      for (const state of TARGET_STATES) this.set({ state }, state === now ? 1 : 0);
    },
  });
  return {
    shipped: new Counter({
      name: 'sluice_sync_shipped_rows_total',
      help: 'Outbox changes shipped and acknowledged.',
      registers: [registry],
    }),
    batch: new Histogram({
      name: 'sluice_sync_batch_seconds',
      help: 'Time one batch took: read, ship, commit on the target, acknowledge locally.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'sluice_sync_failures_total',
      help: 'Ship attempts that failed, by reason (down, stalled, refusing, locked, local, refused).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    forks: new Counter({
      name: 'sluice_sync_forks_total',
      help: 'Times this file found the target following another copy of it, and took a new node id.',
      registers: [registry],
    }),
  };
}
