import type { SluiceError } from '../core/sluice-error.js';
import type { FilterNode } from '../query/filter.js';
import type { OrderTerm } from '../query/order.js';
import type { ColumnDef } from '../schema/define-table.js';
import type { EncodedPatch, JsRow, RowCodec } from '../schema/row-codec.js';

/** What a write does, as data: the dialect decides how to run it (alone, or grouped with others). */
export type WriteCommand =
  | { readonly kind: 'insert'; readonly params: unknown[]; readonly row: JsRow }
  | { readonly kind: 'upsert'; readonly params: unknown[]; readonly row: JsRow }
  | {
      readonly kind: 'update';
      readonly key: unknown[];
      readonly patch: EncodedPatch;
      /** A compare-and-set condition: the update applies only where it holds. */
      readonly where?: FilterNode | undefined;
      /** `row`: resolve with the updated row; `none` (or unset): with undefined, reading nothing back. */
      readonly returning?: 'row' | 'none' | undefined;
    }
  | { readonly kind: 'delete'; readonly key: unknown[] }
  | {
      /**
       * Updates up to `limit` rows matching `where`, taken in `orderBy` order, in one statement;
       * resolves with the updated rows. Claims and lease reaping are built on it. Where the
       * dialect can, rows locked by another transaction are skipped rather than waited for.
       */
      readonly kind: 'updateMany';
      readonly patch: EncodedPatch;
      /** Integer columns incremented by one in the same statement (a claim's attempt counter). */
      readonly increment: readonly ColumnDef[];
      readonly where: FilterNode;
      readonly orderBy: readonly OrderTerm[];
      readonly limit: number;
    }
  | {
      /** Deletes up to `limit` rows matching `where`; resolves with how many. Retention uses it. */
      readonly kind: 'deleteMany';
      readonly where: FilterNode;
      readonly limit: number;
    };

export type WriteKind = WriteCommand['kind'];

export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: SluiceError };

/** One queued write and the promise waiting for its commit. */
export interface WriteOp {
  readonly codec: RowCodec;
  readonly command: WriteCommand;
  readonly nonBlocking: boolean;
  /** performance.now() after which lock waits give up with BUSY. */
  readonly deadline: number;
  readonly enqueuedAt: number;
  /** Which flush() epoch the op belongs to. */
  epoch: number;
  /** `now`: performance.now() at settlement, passed in when a whole batch settles at once. */
  settle(outcome: Outcome, now?: number): void;
}

/** One key a committed batch changed: the change feed's unit. */
export class CommittedChange {
  readonly kind: WriteKind;
  /** Primary-key values as the driver stores them, in primary-key order (what the cache keys on). */
  readonly encodedKey: readonly unknown[];
  readonly #codec: RowCodec;
  #key: readonly unknown[] | undefined;

  constructor(codec: RowCodec, kind: WriteKind, encodedKey: readonly unknown[]) {
    this.#codec = codec;
    this.kind = kind;
    this.encodedKey = encodedKey;
  }

  get table(): string {
    return this.#codec.table.name;
  }

  /**
   * Primary-key values as callers write them (a Date, a boolean), in primary-key order: the same
   * on every dialect. Decoded on first use, so listeners that only need `encodedKey` pay nothing.
   */
  get key(): readonly unknown[] {
    this.#key ??= this.#codec.decodeKey(this.encodedKey);
    return this.#key;
  }
}
