import type { SluiceError } from '../core/sluice-error.js';
import type { Outcome, WriteCommand } from '../dialect/write-op.js';
import type { RowCodec } from '../schema/row-codec.js';
import type { Lane, QueuedWrite } from './lanes.js';

/** A caller's write in the queue, and the promise waiting for its commit. */
export class PendingWrite implements QueuedWrite {
  epoch = 0;
  /** Counted against the admission until it settles. */
  admitted = false;
  constructor(
    readonly codec: RowCodec,
    readonly command: WriteCommand,
    readonly lane: Lane,
    readonly nonBlocking: boolean,
    readonly deadline: number,
    readonly enqueuedAt: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: SluiceError) => void,
    readonly done: (op: PendingWrite, outcome: Outcome, now: number) => void,
  ) {}

  settle(outcome: Outcome, now?: number): void {
    this.done(this, outcome, now ?? performance.now());
    if (outcome.ok) this.resolve(outcome.value);
    else this.reject(outcome.error);
  }
}
