import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { FilterNode } from '../query/filter.js';
import { parseFilter } from '../query/filter-parser.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';
import type { EncodedPatch, JsRow, RowCodec } from '../schema/row-codec.js';

/** The fixed parts of one move (to a target, from a given source or any), built once. */
export interface Move {
  /** The move's condition as a filter: the states it may start from (and, for a return, a held lease). */
  readonly condition: JsRow;
  readonly assigns: JsRow;
  readonly patch: EncodedPatch;
  readonly where: FilterNode;
}

/**
 * The lifecycle's graph as write conditions: which states a move may start from, remembered per
 * (target, source). Transitions are the hot path of every lifecycle table; rebuilding these per
 * call was a third of a transition's time.
 */
export class LifecycleMoves {
  readonly #codec: RowCodec;
  readonly #lifecycle: Lifecycle;
  readonly #moves = new Map<string, Map<string, Move>>();

  constructor(codec: RowCodec, lifecycle: Lifecycle) {
    this.#codec = codec;
    this.#lifecycle = lifecycle;
  }

  /** The move to `to` (from `from`, when given): its condition, the columns it assigns, and those encoded. */
  move(to: string, from: string | undefined): Move {
    // By target, then by source ('' for none): no key string is built per call. Only a move
    // that passed sources() is remembered, so bad targets from callers never fill the map.
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

  /** The declared states a move to `to` may start from, or ILLEGAL_TRANSITION when there are none. */
  sources(to: string, from: string | undefined): string[] {
    const lifecycle = this.#lifecycle;
    const table = this.#codec.table.name;
    const illegal = (why: string) =>
      new SluiceError('ILLEGAL_TRANSITION', `${table}.${lifecycle.column.name}: ${why} Allowed moves: ${describeMoves(lifecycle)}.`, {
        table,
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
      declared = this.sources(to, from);
    } catch (error) {
      if (returns && lifecycle.next.has(to) && (from === undefined || lifecycle.returnFrom.includes(from))) return held;
      throw error;
    }
    const plain = { [column]: { $in: declared } };
    return returns && from === undefined ? { $or: [plain, held] } : plain;
  }
}

function describeMoves(lifecycle: Lifecycle): string {
  const moves = [...lifecycle.next]
    .filter(([, targets]) => targets.size > 0)
    .map(([from, targets]) => `${from} -> ${[...targets].join('|')}`);
  if (lifecycle.returns.size > 0)
    moves.push(`a row holding a lease in ${lifecycle.returnFrom.join('|')} -> ${[...lifecycle.returns].join('|')}`);
  return moves.join(', ');
}
