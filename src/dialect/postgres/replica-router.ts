import type { PgConnectionOptions, PgSession, PostgresDriver } from './postgres-connection.js';
import { isConnectionLoss } from './postgres-errors.js';
import { parseLsn, ReplicaTarget } from './replica-pool.js';

export interface ReplicaOptions {
  readonly urls: readonly string[];
  /** A replica whose replay is further behind than this is skipped. */
  readonly maxLagMs: number;
}

/** Why a read that could have gone to a replica went to the primary. */
export type FallbackReason = 'down' | 'lagging' | 'behind' | 'failed';

/** Until a replica that failed is tried again. */
const RETRY_DOWN_MS = 1000;
/** Position known to be unreachable: every read goes to the primary until the next commit is recorded. */
const UNKNOWN_POSITION = 1n << 62n;

/**
 * Read/write splitting that keeps read-your-writes by itself (Drizzle's withReplicas picks a
 * replica at random and leaves this to the caller). After each of our commits the primary's WAL
 * position is recorded; a read goes to a replica only once that replica has replayed up to it, so
 * a process always reads its own acknowledged writes. Reads of other processes' writes are as
 * fresh as `maxLagMs`: a replica further behind, down, or not streaming is skipped and probed
 * again later. Anything a replica cannot answer is asked of the primary.
 */
export class ReplicaRouter {
  readonly #targets: ReplicaTarget[];
  readonly #primary: PgSession;
  readonly #maxLagMs: number;
  readonly #timer: NodeJS.Timeout;
  /** The primary's WAL position after our last commit (a promise while it is being read). */
  #required: bigint | Promise<bigint> = 0n;
  /** The last position read issued; the next one starts after it. */
  #tail: Promise<bigint> = Promise.resolve(0n);
  /** A position read is queued behind #tail and not yet sent. */
  #queued = false;
  #next = 0;
  readonly readsByTarget = { primary: 0, replica: 0 };
  readonly fallbacks: Record<FallbackReason, number> = { down: 0, lagging: 0, behind: 0, failed: 0 };

  constructor(options: ReplicaOptions, base: PgConnectionOptions, driver: PostgresDriver, poolSize: number, primary: PgSession) {
    this.#targets = options.urls.map((url) => new ReplicaTarget(url, base, driver, poolSize));
    this.#primary = primary;
    this.#maxLagMs = options.maxLagMs;
    // Probing often enough that a lag reading is never much older than the bound it is held to.
    const every = Math.min(1000, Math.max(50, Math.floor(options.maxLagMs / 4)));
    this.#timer = setInterval(() => {
      for (const target of this.#targets) if (target.downUntil <= performance.now()) void target.probe(RETRY_DOWN_MS);
    }, every);
    this.#timer.unref();
    for (const target of this.#targets) void target.probe(RETRY_DOWN_MS);
  }

  /**
   * Called once a commit of ours has returned, before its writes are acknowledged (and before a
   * foreign commit's notification is passed on): the position is read after the call, so it is
   * at or past that commit. Reads issued meanwhile wait for it. Position reads run one at a time;
   * calls made while one is queued and not yet sent share it, so a burst of commits costs one
   * or two round trips, not one each. A position that cannot be read sends reads to the primary
   * until a later one can.
   */
  noteCommit(): void {
    if (this.#queued) return;
    this.#queued = true;
    const reading = this.#tail.then(async () => {
      this.#queued = false;
      try {
        const { rows } = await this.#primary.query('select pg_current_wal_lsn()::text as lsn');
        const at = parseLsn(rows[0]?.lsn);
        return at < 0n ? UNKNOWN_POSITION : at;
      } catch {
        return UNKNOWN_POSITION;
      }
    });
    this.#tail = reading;
    this.#required = reading;
    void reading.then((at) => {
      if (this.#required === reading) this.#required = at;
    });
  }

  /** Runs a read on a replica that holds our last commit, else with `onPrimary`. */
  async read<T>(onReplica: (session: PgSession) => Promise<T>, onPrimary: () => Promise<T>): Promise<T> {
    const target = await this.#choose();
    if (target === undefined) return this.#onPrimary(onPrimary);
    try {
      const result = await onReplica(target.pool);
      target.reads++;
      this.readsByTarget.replica++;
      return result;
    } catch (error) {
      // A query cancelled by a recovery conflict, or a replica gone: the primary answers instead.
      if (isConnectionLoss(error)) target.markDown(RETRY_DOWN_MS);
      this.fallbacks.failed++;
      return this.#onPrimary(onPrimary);
    }
  }

  async #onPrimary<T>(onPrimary: () => Promise<T>): Promise<T> {
    const result = await onPrimary();
    this.readsByTarget.primary++;
    return result;
  }

  async #choose(): Promise<ReplicaTarget | undefined> {
    const required = await this.#required;
    const now = performance.now();
    let reason: FallbackReason = 'down';
    const n = this.#targets.length;
    const start = this.#next++ % n;
    for (let i = 0; i < n; i++) {
      const target = this.#targets[(start + i) % n] as ReplicaTarget;
      if (target.downUntil > now) continue;
      if (target.probedAt === 0 || !target.streaming || target.lagMs > this.#maxLagMs || now - target.probedAt > this.#maxLagMs) {
        if (reason === 'down') reason = 'lagging';
        continue;
      }
      if (target.replayed >= required) return target;
      // The last probe predates our commit: ask again (shared with other reads waiting on it).
      await target.probe(RETRY_DOWN_MS);
      if (target.downUntil <= now && target.replayed >= required && target.lagMs <= this.#maxLagMs) return target;
      reason = 'behind';
    }
    this.fallbacks[reason]++;
    return undefined;
  }

  /** For stats and status: reads per target, fallbacks, the worst lag among replicas up. */
  stats(): Record<string, number> {
    const now = performance.now();
    const up = this.#targets.filter((t) => t.downUntil <= now && t.probedAt > 0);
    return {
      readsPrimary: this.readsByTarget.primary,
      readsReplica: this.readsByTarget.replica,
      replicaFallbacks: Object.values(this.fallbacks).reduce((a, b) => a + b, 0),
      replicaFallbacksDown: this.fallbacks.down,
      replicaFallbacksLagging: this.fallbacks.lagging,
      replicaFallbacksBehind: this.fallbacks.behind,
      replicaFallbacksFailed: this.fallbacks.failed,
      replicasUp: up.length,
      replicaLagMs: up.reduce((worst, t) => Math.max(worst, t.lagMs), 0),
    };
  }

  /** Per replica, for diagnose(). */
  describe(): Record<string, unknown>[] {
    const now = performance.now();
    return this.#targets.map((t) => ({ replica: t.label, up: t.downUntil <= now && t.probedAt > 0, lagMs: t.lagMs, reads: t.reads }));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#targets.map((t) => t.end()));
  }
}
