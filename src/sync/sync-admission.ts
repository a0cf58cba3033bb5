import type { WriteAdmission } from '../gate/write-gate.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { SyncFigures } from './sync-figures.js';

/**
 * sync.maxPending as the gate's admission: writes to synced tables wait (or enqueue() drops them)
 * while the outbox holds maxPending changes; they are let through as the shipper makes room.
 */
export class SyncAdmission implements WriteAdmission {
  readonly #maxPending: number;
  readonly #figures: SyncFigures;
  readonly #stopped: () => boolean;
  #waiters: (() => void)[] = [];

  constructor(maxPending: number, figures: SyncFigures, stopped: () => boolean) {
    this.#maxPending = maxPending;
    this.#figures = figures;
    this.#stopped = stopped;
  }

  /** How many more writes to `table` may queue before its outbox passes maxPending. */
  room(table: AnyTableDef, inFlight: number): number | undefined {
    if (table.sync === undefined || this.#stopped()) return undefined;
    return this.#maxPending - this.#figures.pending() - inFlight;
  }

  whenRoom(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  describe(table: AnyTableDef): string {
    return `sync.maxPending (${this.#maxPending}) is reached: ${this.#figures.pending()} changes of the synced tables (${table.name} is one) wait to ship, target ${this.#figures.target}`;
  }

  /** The outbox may be below the bound again (or the shipper stopped): waiting writes ask again. */
  wake(force = false): void {
    if (this.#waiters.length === 0) return;
    if (force || this.#figures.pending() < this.#maxPending) for (const wake of this.#waiters.splice(0)) wake();
  }
}
