import type { LatencyHistogramJson } from './latency-histogram.js';

export const NODE_ROLES = ['ingester', 'scheduler', 'smoke'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];
export type Role = NodeRole | 'foreign';

/** What a stress child is told, as JSON in argv[2]. */
export interface WorkerConfig {
  readonly role: NodeRole;
  /** Unique per process; schedulers write it into `owner`. */
  readonly name: string;
  readonly url: string;
  readonly logFile: string;
  /** Every path this run writes starts with it, and schedulers only claim paths under it. */
  readonly prefix: string;
  /** Start writing right after `ready` and never stop (crash tests kill the process); default: wait for `go`. */
  readonly autostart?: boolean;
}

export type ParentMessage = { type: 'go'; endAt: number };

export type ChildMessage =
  | { type: 'ready'; sqliteVersion?: string }
  | { type: 'progress'; acked: number }
  | { type: 'summary'; summary: ProcessSummary }
  | { type: 'failed'; message: string };

/** What each writer process reports after its run, Node or Python alike. */
export interface ProcessSummary {
  name: string;
  role: Role;
  pid: number;
  elapsedMs: number;
  /** Writes acknowledged (and logged). */
  acked: number;
  ops: Record<string, number>;
  /** Lock waits the writer retried. */
  busyRetries: number;
  /** Writes that failed with BUSY: the count that must be zero. */
  busySurfaced: number;
  /** Any other failure, by code. */
  errors: Record<string, number>;
  errorSamples: string[];
  /** An acknowledged row that the same process could not read back. */
  readOwnWriteMisses: number;
  /** Claims acknowledged (each item once per claim). */
  claims: number;
  /** Settles tried on purpose after the lease lapsed (the reaper handed the item back). */
  lapsedSettlesTried: number;
  /** Of those, refused because the token was no longer current: expected. */
  lapsedSettlesRefused: number;
  /** Illegal state changes tried on purpose with plain SQL (the foreign writer), and what the database did. */
  illegalTried: number;
  illegalRefused: number;
  /** Illegal changes the database accepted: must be 0. */
  illegalAccepted: number;
  latency: LatencyHistogramJson;
  sqliteVersion?: string;
}
