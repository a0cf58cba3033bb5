/**
 * Where a worker hears that rows may have become claimable: commits of its table in this process
 * at once, and other processes' commits where the database can tell (SQLite's data_version,
 * PostgreSQL's NOTIFY). Without a signal the worker polls every `pollMs`.
 */
export interface WakeSource {
  subscribe(table: string, listener: WakeListener): () => void;
  /** Offers a wake-up to another idle worker of the table (a claim came back full: there may be more). */
  nudge(table: string): void;
}

/**
 * How a worker hears of a commit. The source offers it to one idle worker at a time, so a commit
 * costs one claim, not one per worker; only when none is idle is every worker marked, to claim
 * once it is.
 */
export interface WakeListener {
  /** Takes the wake-up if the worker sleeps waiting for one; false when it is busy. */
  offer(): boolean;
  /** Remembers a commit it could not take now: the worker's next sleep returns at once. */
  mark(): void;
}

/** What ended a nap: a commit signal, its timer, a finished handler, or stop(). */
export type WakeReason = 'commit' | 'timer' | 'slot' | 'stop';

/**
 * A worker's sleep and what ends it. A commit only ends a wakeable nap (one waiting for new rows);
 * one that comes while the worker is busy is kept, so its next wakeable nap returns at once. The
 * worker's loop holds one latch; the wake source reaches it through `offer` and `mark`.
 */
export class WakeLatch implements WakeListener {
  /** Set while the loop sleeps waiting for a commit (a wakeable nap). */
  #wakeable = false;
  #woken = false;
  #stopped = false;
  #wake: ((why: WakeReason) => void) | undefined;

  /**
   * Waits for `ms` to pass, a signal (a finished handler), stop(), or (when `wakeable`) a commit.
   * Without `ms` only a signal or stop() ends it.
   */
  nap(ms: number | undefined, wakeable: boolean): Promise<WakeReason> {
    if (this.#stopped) return Promise.resolve('stop');
    if (wakeable && this.#woken) {
      this.#woken = false;
      return Promise.resolve('commit');
    }
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => done('timer'), ms);
      const done = (why: WakeReason) => {
        if (timer) clearTimeout(timer);
        this.#wake = undefined;
        this.#wakeable = false;
        resolve(why);
      };
      this.#wakeable = wakeable;
      this.#wake = (why) => {
        if (why === 'commit') {
          if (!wakeable) return;
          this.#woken = false;
        }
        done(why);
      };
    });
  }

  /** Ends the current nap, if any, with `why` (a commit ends only a wakeable one). */
  signal(why: WakeReason): void {
    this.#wake?.(why);
  }

  offer(): boolean {
    if (!this.#wakeable || !this.#wake) return false;
    this.#wake('commit');
    return true;
  }

  mark(): void {
    this.#woken = true;
  }

  /** Ends the current nap and makes every later one return 'stop' at once. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.('stop');
  }
}
