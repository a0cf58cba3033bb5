import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';

export interface CheckpointStats {
  walBytes: number;
  checkpoints: number;
  checkpointsBlocked: number;
}

/**
 * Keeps the WAL bounded. SQLite's auto-checkpoint cannot reset the WAL while any reader (ours or a
 * foreign process's) is inside a transaction, so a long reader lets it grow without limit. This
 * watchdog measures the file and, past `maxBytes`, asks for a TRUNCATE checkpoint. With
 * busy_timeout 0 the request never waits: when a reader blocks it, it is counted and tried again
 * on the next tick.
 */
export class CheckpointWatchdog {
  readonly #db: Database.Database;
  readonly #walFile: string;
  readonly #maxBytes: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly stats: CheckpointStats = { walBytes: 0, checkpoints: 0, checkpointsBlocked: 0 };

  constructor(db: Database.Database, file: string, maxBytes: number, intervalMs: number) {
    this.#db = db;
    this.#walFile = `${file}-wal`;
    this.#maxBytes = maxBytes;
    this.#timer = file === ':memory:' ? undefined : setInterval(() => this.tick(), intervalMs);
    this.#timer?.unref();
  }

  measure(): number {
    try {
      this.stats.walBytes = statSync(this.#walFile).size;
    } catch {
      this.stats.walBytes = 0;
    }
    return this.stats.walBytes;
  }

  tick(): void {
    if (this.measure() > this.#maxBytes && !this.#db.inTransaction) this.checkpoint();
  }

  /** Returns true when the WAL was fully checkpointed and truncated. */
  checkpoint(): boolean {
    try {
      const [result] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      const complete = result !== undefined && result.busy === 0;
      if (complete) this.stats.checkpoints++;
      else this.stats.checkpointsBlocked++;
      this.measure();
      return complete;
    } catch {
      this.stats.checkpointsBlocked++;
      return false;
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
