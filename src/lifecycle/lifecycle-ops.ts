import type { CompiledQuery, Kysely } from 'kysely';
import { checkOptionKeys, returningOption } from '../core/options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { WriteCommand } from '../dialect/write-op.js';
import type { SubmitOptions, WriteGate } from '../gate/write-gate.js';
import { parseFilter } from '../query/filter-parser.js';
import { compareByTerms, parseOrder } from '../query/order.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';
import type { JsRow, RowCodec } from '../schema/row-codec.js';
import { reapExpired } from './lease-reaper.js';
import { requireClaimLimit, requireLease, requireLeases, requireOwner, requireToken, transitionSet } from './lifecycle-checks.js';
import { historyQuery } from './lifecycle-history.js';
import { LifecycleMoves } from './lifecycle-moves.js';
import {
  CLAIM_OPTIONS,
  type ClaimOptions,
  type ReapResult,
  SUBMIT_OPTIONS,
  TRANSITION_OPTIONS,
  type TransitionApplied,
  type TransitionOptions,
  type TransitionResult,
} from './lifecycle-types.js';

// The lifecycle's public types are named where its operations are: callers import both from here.
export type {
  ClaimOptions,
  HistoryEntry,
  ReapResult,
  TransitionApplied,
  TransitionOptions,
  TransitionResult,
} from './lifecycle-types.js';

/**
 * Lifecycle moves as write-gate commands: a transition is a compare-and-set update whose
 * condition is "the row is in a state that may move to the target" (and holds the given fencing
 * token); a claim is one multi-row update. Nothing is read and then written, so there is no
 * window for another writer, whatever process or language it runs in.
 */
export class LifecycleOps {
  readonly #codec: RowCodec;
  readonly #lifecycle: Lifecycle;
  readonly #gate: WriteGate;
  readonly #read: (key: unknown) => Promise<JsRow | undefined>;
  readonly #moves: LifecycleMoves;

  constructor(codec: RowCodec, lifecycle: Lifecycle, gate: WriteGate, read: (key: unknown) => Promise<JsRow | undefined>) {
    this.#codec = codec;
    this.#lifecycle = lifecycle;
    this.#gate = gate;
    this.#read = read;
    this.#moves = new LifecycleMoves(codec, lifecycle);
  }

  get #table(): string {
    return this.#codec.table.name;
  }

  async transition(key: unknown, to: string, given: TransitionOptions = {}): Promise<TransitionResult<JsRow> | TransitionApplied> {
    const options = this.#options('transition', given, TRANSITION_OPTIONS);
    const returning = returningOption('transition', this.#table, options.returning);
    const move = this.#moves.move(to, options.from);
    let where = move.where;
    if (options.token !== undefined) {
      requireLeases(this.#table, this.#lifecycle, 'settle with a token');
      requireToken(this.#table, 'transition', options.token);
      where = parseFilter(this.#codec, { $and: [move.condition, { attempt: options.token }] });
    }
    const patch =
      options.set === undefined
        ? this.#codec.restamp(move.patch)
        : this.#codec.encodePatch({ ...transitionSet(this.#codec, this.#lifecycle, options.set), ...move.assigns });
    const command: WriteCommand = { kind: 'update', key: this.#codec.encodeKey(key), patch, where, returning };
    try {
      const row = await this.#gate.submit(this.#codec, command, options);
      return returning === 'none' ? { applied: true, state: to } : { applied: true, state: to, row: row as JsRow };
    } catch (error) {
      if (!SluiceError.is(error, 'CONFLICT')) throw error;
      // The refused write read the row in its own transaction; a read now could see a later state.
      const current = (error.current as JsRow | undefined) ?? (await this.#read(key));
      if (!current)
        throw new SluiceError('NOT_FOUND', `${this.#table} has no row with key ${describeValue(key)}; nothing was moved.`, {
          table: this.#table,
          value: key,
        });
      const state = current[this.#lifecycle.column.name] as string;
      return returning === 'none' ? { applied: false, state } : { applied: false, state, row: current };
    }
  }

  async claim(given: ClaimOptions): Promise<JsRow[]> {
    requireLeases(this.#table, this.#lifecycle, 'claim');
    if (given === undefined) {
      throw new SluiceError('VALIDATION', `claim on ${this.#table} needs { from, to, limit, leaseMs, owner }.`, { table: this.#table });
    }
    const options = this.#options('claim', given, CLAIM_OPTIONS);
    this.#moves.sources(options.to, options.from);
    requireClaimLimit(this.#table, options.limit);
    requireLease(this.#table, 'claim', options.leaseMs);
    requireOwner(this.#table, options.owner);
    const column = this.#lifecycle.column.name;
    const now = Date.now();
    // A delayed row (runAt in the future) is not due yet; the caller's where narrows further.
    const due = { $or: [{ runAt: { $null: true } }, { runAt: { $lte: new Date(now) } }] };
    const filter: JsRow = { $and: [{ [column]: options.from }, due, ...(options.where === undefined ? [] : [options.where])] };
    const orderBy = parseOrder(this.#codec.table, options.orderBy);
    // RETURNING follows no ORDER BY on PostgreSQL: hand the rows back in the order they were chosen.
    const rows = (await this.#gate.submit(
      this.#codec,
      {
        kind: 'updateMany',
        patch: this.#codec.encodePatch({
          [column]: options.to,
          leaseOwner: options.owner,
          leaseExpiresAt: new Date(now + options.leaseMs),
        }),
        increment: [this.#codec.table.columnsByName.get('attempt')!],
        where: parseFilter(this.#codec, filter),
        orderBy,
        limit: options.limit,
      },
      options,
    )) as JsRow[];
    return rows.sort(compareByTerms(orderBy));
  }

  /** Extends a lease still held under `token`; false when it lapsed and was taken or settled. */
  async renew(key: unknown, token: number, leaseMs: number, given: SubmitOptions = {}): Promise<boolean> {
    requireLeases(this.#table, this.#lifecycle, 'renew');
    const options = this.#options('renew', given, SUBMIT_OPTIONS);
    requireToken(this.#table, 'renew', token);
    requireLease(this.#table, 'renew', leaseMs);
    const command: WriteCommand = {
      kind: 'update',
      key: this.#codec.encodeKey(key),
      patch: this.#codec.encodePatch({ leaseExpiresAt: new Date(Date.now() + leaseMs) }),
      where: parseFilter(this.#codec, { attempt: token, leaseOwner: { $null: false } }),
    };
    try {
      await this.#gate.submit(this.#codec, command, options);
      return true;
    } catch (error) {
      if (SluiceError.is(error, 'CONFLICT')) return false;
      throw error;
    }
  }

  /** Hands expired leases back, in batches of at most `limit` rows per transaction. */
  reapExpired(limit = 1000, now = Date.now()): Promise<ReapResult> {
    return reapExpired(this.#codec, this.#lifecycle, this.#gate, limit, now);
  }

  /** The query behind `history(key)`. */
  historyQuery(builder: Kysely<any>, key: readonly unknown[]): CompiledQuery {
    return historyQuery(builder, this.#table, this.#lifecycle, key);
  }

  /** A call's options: an object whose every key this call knows, so a misspelt one is never ignored. */
  #options<O extends object>(call: string, options: O | undefined, known: readonly string[]): O {
    checkOptionKeys(call, this.#table, options, known);
    return options ?? ({} as O);
  }
}
