import type { ExtraWrites } from '../dialect/dialect.js';
import type { CommittedChange, Outcome, WriteCommand, WriteOp } from '../dialect/write-op.js';
import type { RowCodec } from '../schema/row-codec.js';

/** A write another write brings into its transaction: what to do, to which table. */
export interface ExtraWrite {
  readonly codec: RowCodec;
  readonly command: WriteCommand;
}

/**
 * A contributor of extra writes (sync's outbox today; rollups and the alert history may follow):
 * told of each batch's committed changes inside the batch's transaction, before COMMIT, it
 * answers with the writes that must commit with them (undefined or empty: none). They commit or
 * roll back with the batch, and a failing one fails the batch. A contributor sees the batch's own
 * changes only, not what other contributors add.
 */
export type CaptureWrites = (changes: readonly CommittedChange[]) => readonly ExtraWrite[] | undefined;

const NONE: readonly WriteOp[] = Object.freeze([]);

/**
 * An extra write as the dialect runs it: no caller waits on it (its outcome is the batch's), it
 * never waits for a lock on its own, and it belongs to no flush() epoch.
 */
class CarriedWrite implements WriteOp {
  readonly nonBlocking = false;
  readonly deadline = Number.POSITIVE_INFINITY;
  readonly enqueuedAt = 0;
  epoch = 0;
  constructor(
    readonly codec: RowCodec,
    readonly command: WriteCommand,
  ) {}

  settle(_outcome: Outcome): void {}
}

/** The gate's extra-writes port: every contributor registered, folded into the one hook the dialect calls. */
export class ExtraWritesPort {
  readonly #captures: CaptureWrites[] = [];
  /** What the dialect calls per batch; undefined while nobody contributes, so a batch pays nothing. */
  hook: ExtraWrites | undefined;

  add(capture: CaptureWrites): () => void {
    this.#captures.push(capture);
    this.hook = this.#fold();
    return () => {
      const i = this.#captures.indexOf(capture);
      if (i >= 0) this.#captures.splice(i, 1);
      this.hook = this.#fold();
    };
  }

  #fold(): ExtraWrites | undefined {
    const captures = [...this.#captures];
    if (captures.length === 0) return undefined;
    return (changes) => {
      let ops: WriteOp[] | undefined;
      for (const capture of captures) {
        const writes = capture(changes);
        if (writes === undefined) continue;
        ops ??= [];
        for (const write of writes) ops.push(new CarriedWrite(write.codec, write.command));
      }
      return ops ?? NONE;
    };
  }
}
