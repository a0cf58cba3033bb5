import type { SubmitOptions } from '../gate/write-gate.js';
import type { Filter } from '../query/filter.js';
import type { JsRow } from '../schema/row-codec.js';

export interface TransitionOptions<State extends string = string, Patch = JsRow> extends SubmitOptions {
  /** Apply only if the row is in this state now. */
  from?: State;
  /**
   * Other columns to change in the same statement; not the state column (that is `to`) nor the
   * lease (`attempt`, `leaseOwner`, `leaseExpiresAt`), which the move itself releases.
   */
  set?: Patch;
  /** The fencing token (`attempt`) of the claim being settled: a lapsed, re-claimed lease cannot settle. */
  token?: number;
  /** `none` (default): resolve `{ applied }` only, reading no row back; `row`: resolve the row too. */
  returning?: 'row' | 'none';
}

/** What a transition with `returning: 'none'` resolves with. */
export interface TransitionApplied<State extends string = string> {
  /** False when the row was not in a state that allows the move (another writer got there first). */
  applied: boolean;
  /**
   * The row's state now: the target when the move applied; otherwise the state it was found in,
   * read in the same transaction, so a lost race (`state` is where the winner put it) is told
   * from a move this state never allows.
   */
  state: State;
}

export interface TransitionResult<Row, State extends string = string> extends TransitionApplied<State> {
  /** The row after the transition, or as it is now when it did not apply. */
  row: Row;
}

export interface ClaimOptions<State extends string = string, Row = JsRow> extends SubmitOptions {
  /** The state the rows are taken from. */
  from: State;
  /** The state a claimed row moves to (a working state). */
  to: State;
  /** At most this many rows. */
  limit: number;
  /** How long the claim holds before the reaper may hand the row to someone else. */
  leaseMs: number;
  /** Who holds the lease (a worker id); recorded on the row and in the history. */
  owner: string;
  /** Only rows that also match this filter. */
  where?: Filter<Row>;
  /** Which rows first. Default: primary-key order. */
  orderBy?: string | readonly string[];
}

export interface HistoryEntry {
  from: string | null;
  to: string;
  at: Date;
  /** The lease owner when the change was made, if the table has leases. */
  actor: string | null;
}

export interface ReapResult {
  /** Expired leases returned to `leases.expireTo`. */
  returned: number;
  /** Expired leases past `maxAttempts`, moved to `leases.exhaustedTo`. */
  exhausted: number;
}

/** The option keys each call knows, so a misspelt one is refused rather than ignored. */
export const SUBMIT_OPTIONS = ['priority', 'nonBlocking', 'timeoutMs'] as const satisfies readonly (keyof SubmitOptions)[];
export const TRANSITION_OPTIONS = [
  ...SUBMIT_OPTIONS,
  'from',
  'set',
  'token',
  'returning',
] as const satisfies readonly (keyof TransitionOptions)[];
export const CLAIM_OPTIONS = [
  ...SUBMIT_OPTIONS,
  'from',
  'to',
  'limit',
  'leaseMs',
  'owner',
  'where',
  'orderBy',
] as const satisfies readonly (keyof ClaimOptions)[];
