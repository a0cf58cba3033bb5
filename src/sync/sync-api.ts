import type { SyncNode } from './sync-nodes.js';

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
  /** Every node shipping into this file's target, as the target records it (see `syncNodes`). */
  nodes(): Promise<SyncNode[]>;
}
