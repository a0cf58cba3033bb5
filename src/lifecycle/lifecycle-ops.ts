import type { CompiledQuery, Kysely } from 'kysely';
import { checkOptionKeys, returningOption } from '../core/options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { WriteCommand } from '../dialect/write-op.js';
import type { SubmitOptions, WriteGate } from '../gate/write-gate.js';
import type { Filter, FilterNode } from '../query/filter.js';
import { parseFilter } from '../query/filter-parser.js';
import { compareByTerms, type OrderTerm, parseOrder } from '../query/order.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';
import type { EncodedPatch, JsRow, RowCodec } from '../schema/row-codec.js';
import { refuseLeaseInPatch } from './caller-writes.js';

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

interface Move {
  /** The move's condition as a filter: the states it may start from (and, for a return, a held lease). */
  readonly condition: JsRow;
  readonly assigns: JsRow;
  readonly patch: EncodedPatch;
  readonly where: FilterNode;
}

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
  readonly #moves = new Map<string, Map<string, Move>>();

  constructor(codec: RowCodec, lifecycle: Lifecycle, gate: WriteGate, read: (key: unknown) => Promise<JsRow | undefined>) {
    this.#codec = codec;
    this.#lifecycle = lifecycle;
    this.#gate = gate;
    this.#read = read;
  }

  get #table(): string {
    return this.#codec.table.name;
  }

  async transition(key: unknown, to: string, given: TransitionOptions = {}): Promise<TransitionResult<JsRow> | TransitionApplied> {
    const options = this.#options('transition', given, TRANSITION_OPTIONS);
    const returning = returningOption('transition', this.#table, options.returning);
    const move = this.#move(to, options.from);
    let where = move.where;
    if (options.token !== undefined) {
      this.#requireLeases('settle with a token');
      this.#requireToken('transition', options.token);
      where = parseFilter(this.#codec, { $and: [move.condition, { attempt: options.token }] });
    }
    const patch =
      options.set === undefined ? this.#codec.restamp(move.patch) : this.#codec.encodePatch({ ...this.#set(options.set), ...move.assigns });
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
    this.#requireLeases('claim');
    if (given === undefined) {
      throw new SluiceError('VALIDATION', `claim on ${this.#table} needs { from, to, limit, leaseMs, owner }.`, { table: this.#table });
    }
    const options = this.#options('claim', given, CLAIM_OPTIONS);
    this.#sources(options.to, options.from);
    if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > 10_000) {
      throw new SluiceError(
        'VALIDATION',
        `claim on ${this.#table}: limit must be a whole number from 1 to 10,000, got ${describeValue(options.limit)}.`,
        { table: this.#table, value: options.limit },
      );
    }
    this.#requireLease('claim', options.leaseMs);
    if (typeof options.owner !== 'string' || options.owner.length === 0) {
      throw new SluiceError('VALIDATION', `claim on ${this.#table}: owner must name the worker, got ${describeValue(options.owner)}.`, {
        table: this.#table,
        value: options.owner,
      });
    }
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
    this.#requireLeases('renew');
    const options = this.#options('renew', given, SUBMIT_OPTIONS);
    this.#requireToken('renew', token);
    this.#requireLease('renew', leaseMs);
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
  async reapExpired(limit = 1000, now = Date.now()): Promise<ReapResult> {
    const leases = this.#requireLeases('reap');
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new SluiceError(
        'VALIDATION',
        `reapExpired on ${this.#table}: limit (rows per transaction) must be a whole number >= 1, got ${describeValue(limit)}.`,
        { table: this.#table, value: limit },
      );
    }
    const column = this.#lifecycle.column.name;
    // Whatever working state the claim moved a row to, a lapsed lease hands it back (Lifecycle.returns);
    // a row a foreign writer finished without clearing the lease stays finished.
    const expired: JsRow = {
      leaseOwner: { $null: false },
      leaseExpiresAt: { $lt: now },
      [column]: { $in: this.#lifecycle.returnFrom },
    };
    const result: ReapResult = { returned: 0, exhausted: 0 };
    const run = async (filter: JsRow, patch: JsRow): Promise<number> => {
      let total = 0;
      for (;;) {
        const rows = (await this.#gate.submit(
          this.#codec,
          {
            kind: 'updateMany',
            patch: this.#codec.encodePatch(patch),
            increment: [],
            where: parseFilter(this.#codec, filter),
            orderBy: [] as OrderTerm[],
            limit,
          },
          { priority: 'low' },
        )) as JsRow[];
        total += rows.length;
        if (rows.length < limit) return total;
      }
    };
    const release = { leaseOwner: null, leaseExpiresAt: null };
    if (leases.exhaustedTo !== undefined) {
      result.exhausted = await run(
        { ...expired, attempt: { $gte: leases.maxAttempts } },
        { ...release, [column]: leases.exhaustedTo, lastError: `lease expired after ${leases.maxAttempts} attempts` },
      );
    }
    result.returned = await run(expired, { ...release, [column]: leases.expireTo, lastError: 'lease expired' });
    return result;
  }

  /** The query behind `history(key)`: the trigger stores a single key as its text form. */
  historyQuery(builder: Kysely<any>, key: readonly unknown[]): CompiledQuery {
    if (!this.#lifecycle.history) {
      throw new SluiceError('CONFIG', `${this.#table} keeps no history; add lifecycle.history: true to its definition.`, {
        table: this.#table,
      });
    }
    if (key.length !== 1) {
      throw new SluiceError(
        'VALIDATION',
        `history() on ${this.#table} takes a single-column key; with a composite key, read ${this.#table}_history by row_key (a JSON array).`,
        {
          table: this.#table,
        },
      );
    }
    const value = key[0];
    return builder
      .selectFrom(`${this.#table}_history`)
      .select(['from_state as from', 'to_state as to', 'at', 'actor'])
      .where('row_key', '=', Buffer.isBuffer(value) ? value.toString('hex') : String(value))
      .orderBy('id')
      .compile();
  }

  /** A call's options: an object whose every key this call knows, so a misspelt one is never ignored. */
  #options<O extends object>(call: string, options: O | undefined, known: readonly string[]): O {
    checkOptionKeys(call, this.#table, options, known);
    return options ?? ({} as O);
  }

  #requireToken(call: string, token: unknown): void {
    if (!Number.isSafeInteger(token) || (token as number) < 0) {
      throw new SluiceError(
        'VALIDATION',
        `${call} on ${this.#table}: the token is the attempt a claim returned (a whole number >= 0), got ${describeValue(token)}.`,
        { table: this.#table, column: 'attempt', value: token },
      );
    }
  }

  #requireLease(call: string, leaseMs: unknown): void {
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new SluiceError(
        'VALIDATION',
        `${call} on ${this.#table}: leaseMs must be a positive, finite number of milliseconds, got ${describeValue(leaseMs)}.`,
        { table: this.#table, value: leaseMs },
      );
    }
  }

  /** The other columns a transition changes: never the state (that is `to`) nor the lease (the move settles it). */
  #set(set: unknown): JsRow {
    if (set === undefined) return {};
    if (set === null || typeof set !== 'object' || Array.isArray(set)) {
      throw new SluiceError(
        'VALIDATION',
        `transition on ${this.#table}: set must be an object of columns to change, got ${describeValue(set)}.`,
        { table: this.#table, value: set },
      );
    }
    const patch = set as JsRow;
    const column = this.#lifecycle.column.name;
    if (patch[column] !== undefined) {
      throw new SluiceError(
        'VALIDATION',
        `transition on ${this.#table}: set names the state column ${column} (${describeValue(patch[column])}); the target state is the second argument.`,
        { table: this.#table, column, value: patch[column] },
      );
    }
    refuseLeaseInPatch(this.#codec.table, patch, 'a transition');
    return patch;
  }

  /**
   * The fixed parts of a move to `to` (from `from`, when given), built once: which states it may
   * start from, the columns it assigns, and those as an encoded patch and a checked condition.
   * Transitions are the hot path of every lifecycle table; rebuilding these per call was a third
   * of a transition's time.
   */
  #move(to: string, from: string | undefined): Move {
    // By target, then by source ('' for none): no key string is built per call. Only a move
    // that passed #sources is remembered, so bad targets from callers never fill the map.
    let move = this.#moves.get(to)?.get(from ?? '');
    if (move === undefined) {
      const column = this.#lifecycle.column.name;
      const condition = this.#condition(to, from);
      const assigns: JsRow = { [column]: to };
      if (this.#lifecycle.leases) {
        // A move ends the claim that led to it: the lease no longer protects the row.
        assigns.leaseOwner = null;
        assigns.leaseExpiresAt = null;
      }
      move = { condition, assigns, patch: this.#codec.encodePatch(assigns), where: parseFilter(this.#codec, condition) };
      let bySource = this.#moves.get(to);
      if (bySource === undefined) {
        bySource = new Map();
        this.#moves.set(to, bySource);
      }
      bySource.set(from ?? '', move);
    }
    return move;
  }

  /**
   * The condition of a move to `to`: the row is in a state that may move there, or (a return to
   * `expireTo`/`exhaustedTo`) it holds a lease; ILLEGAL_TRANSITION when neither can ever hold.
   */
  #condition(to: string, from: string | undefined): JsRow {
    const lifecycle = this.#lifecycle;
    const column = lifecycle.column.name;
    const returns = lifecycle.returns.has(to) && from !== to;
    const working = lifecycle.returnFrom.filter((state) => state !== to);
    const held = { leaseOwner: { $null: false }, [column]: from === undefined ? { $in: working } : from };
    let declared: string[];
    try {
      declared = this.#sources(to, from);
    } catch (error) {
      if (returns && lifecycle.next.has(to) && (from === undefined || lifecycle.returnFrom.includes(from))) return held;
      throw error;
    }
    const plain = { [column]: { $in: declared } };
    return returns && from === undefined ? { $or: [plain, held] } : plain;
  }

  /** The declared states a move to `to` may start from, or ILLEGAL_TRANSITION when there are none. */
  #sources(to: string, from: string | undefined): string[] {
    const lifecycle = this.#lifecycle;
    const illegal = (why: string) =>
      new SluiceError('ILLEGAL_TRANSITION', `${this.#table}.${lifecycle.column.name}: ${why} Allowed moves: ${describeMoves(lifecycle)}.`, {
        table: this.#table,
        column: lifecycle.column.name,
        value: to,
      });
    if (!lifecycle.next.has(to)) throw illegal(`${describeValue(to)} is not a state of the lifecycle.`);
    if (from !== undefined) {
      if (!lifecycle.next.has(from)) throw illegal(`${describeValue(from)} is not a state of the lifecycle.`);
      if (!lifecycle.next.get(from)?.has(to)) throw illegal(`the lifecycle does not allow ${describeValue(from)} -> ${describeValue(to)}.`);
      return [from];
    }
    const sources = lifecycle.previous.get(to) ?? [];
    if (sources.length === 0) throw illegal(`no state may move to ${describeValue(to)}.`);
    return [...sources];
  }

  #requireLeases(what: string): NonNullable<Lifecycle['leases']> {
    if (!this.#lifecycle.leases) {
      throw new SluiceError(
        'CONFIG',
        `Cannot ${what} on ${this.#table}: its lifecycle declares no leases. Add lifecycle.leases: { expireTo } to the table.`,
        {
          table: this.#table,
        },
      );
    }
    return this.#lifecycle.leases;
  }
}

const SUBMIT_OPTIONS = ['priority', 'nonBlocking', 'timeoutMs'] as const satisfies readonly (keyof SubmitOptions)[];
const TRANSITION_OPTIONS = [...SUBMIT_OPTIONS, 'from', 'set', 'token', 'returning'] as const satisfies readonly (keyof TransitionOptions)[];
const CLAIM_OPTIONS = [
  ...SUBMIT_OPTIONS,
  'from',
  'to',
  'limit',
  'leaseMs',
  'owner',
  'where',
  'orderBy',
] as const satisfies readonly (keyof ClaimOptions)[];

function describeMoves(lifecycle: Lifecycle): string {
  const moves = [...lifecycle.next]
    .filter(([, targets]) => targets.size > 0)
    .map(([from, targets]) => `${from} -> ${[...targets].join('|')}`);
  if (lifecycle.returns.size > 0)
    moves.push(`a row holding a lease in ${lifecycle.returnFrom.join('|')} -> ${[...lifecycle.returns].join('|')}`);
  return moves.join(', ');
}
