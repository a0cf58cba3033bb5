import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef, ColumnSpec } from './column-types.js';

/** The lifecycle a table declares: a state machine over one text column. */
export interface LifecycleOptions {
  /** The non-null text column that holds the state. */
  readonly column: string;
  /** The state a row starts in when an insert does not name one (also the column's DDL default). */
  readonly initial: string;
  /** The allowed moves: each state lists the states it may move to; states with no entry are final. */
  readonly transitions: Readonly<Record<string, readonly string[]>>;
  /**
   * Keep an append-only `<table>_history` table (key, from, to, at, actor). Written by a trigger,
   * so changes by foreign writers are recorded too. Default false.
   */
  readonly history?: boolean;
  /**
   * Leased claims. Adds the columns `attempt` (the fencing token), `leaseOwner`, `leaseExpiresAt`,
   * `lastError` and `runAt` (not claimable before). An expired lease goes back to `expireTo`, or to `exhaustedTo` once
   * `maxAttempts` (default 5) claims have been made. These return moves need not be declared in
   * `transitions`: a row that holds a lease may always go back to `expireTo` or `exhaustedTo`
   * (the reaper, a worker releasing what it holds, a foreign writer), from whatever working state
   * the claim moved it to; a row that holds no lease, or sits in a final state, follows
   * `transitions` only.
   */
  readonly leases?: { readonly expireTo: string; readonly maxAttempts?: number; readonly exhaustedTo?: string };
}

/** Every state a transition table names, as a union: its keys and every target they list. */
export type LifecycleStates<Transitions> =
  Transitions extends Readonly<Record<infer From extends string, readonly (infer To extends string)[]>> ? From | To : string;

/**
 * The columns a table with leases gets. `runAt` delays a row: claim() passes over it until then
 * (null: at once). Callers set it on insert or update to schedule work, and a worker's retry sets
 * it to the backoff's end.
 */
export const LEASE_COLUMNS = {
  attempt: { type: 'integer', default: 0 },
  leaseOwner: 'text?',
  leaseExpiresAt: 'timestamp?',
  lastError: 'text?',
  runAt: 'timestamp?',
} as const satisfies Record<string, ColumnSpec>;
export type LeaseColumns = typeof LEASE_COLUMNS;

/** A checked lifecycle: the graph as sets, ready for CAS conditions and triggers. */
export interface Lifecycle {
  readonly column: ColumnDef;
  readonly initial: string;
  readonly states: readonly string[];
  /** state → the states it may move to */
  readonly next: ReadonlyMap<string, ReadonlySet<string>>;
  /** state → the states that may move to it */
  readonly previous: ReadonlyMap<string, readonly string[]>;
  readonly history: boolean;
  readonly leases: { readonly expireTo: string; readonly maxAttempts: number; readonly exhaustedTo: string | undefined } | undefined;
  /**
   * The states a row holding a lease may always move to, declared or not: `expireTo` and
   * `exhaustedTo`. Empty without leases. The lease, not the state, makes the move legal: a claim
   * may move a row to any state, and only a claimed row may be handed back.
   */
  readonly returns: ReadonlySet<string>;
  /**
   * The states a leased row may be handed back from: every state with a move out of it. A final
   * state (`completed`) is never left, even with a stale lease a foreign writer did not clear.
   */
  readonly returnFrom: readonly string[];
}

/**
 * Checks a declared lifecycle when the table is defined: every state it names must be one it
 * declares, and every state must be reachable from `initial` (an unreachable state is almost
 * always a typo in the transitions).
 */
export function resolveLifecycle(table: string, options: LifecycleOptions, columns: ReadonlyMap<string, ColumnDef>): Lifecycle {
  const fail = (message: string, value?: unknown): never => {
    throw new SluiceError('CONFIG', `Table ${table}: lifecycle ${message}`, { table, value });
  };
  if (options === null || typeof options !== 'object') fail(`must be an object, got ${describeValue(options)}.`, options);
  const known = ['column', 'initial', 'transitions', 'history', 'leases'];
  for (const key of Object.keys(options)) if (!known.includes(key)) fail(`has unknown option "${key}"; known: ${known.join(', ')}.`, key);
  const column = columns.get(options.column);
  if (!column) return fail(`column ${describeValue(options.column)} is not a column of the table.`, options.column);
  if (column.type !== 'text' || column.nullable) fail(`column ${column.name} must be a non-null text column.`, column.name);
  if (options.transitions === null || typeof options.transitions !== 'object')
    fail('transitions must map each state to the states it may move to.');
  const next = new Map<string, Set<string>>();
  for (const [from, targets] of Object.entries(options.transitions)) {
    if (!Array.isArray(targets)) fail(`transitions.${from} must be a list of states, got ${describeValue(targets)}.`, targets);
    next.set(from, new Set(targets));
  }
  for (const targets of [...next.values()]) for (const to of targets) if (!next.has(to)) next.set(to, new Set());
  const states = [...next.keys()];
  const requireState = (what: string, state: unknown) => {
    if (typeof state !== 'string' || !next.has(state)) {
      fail(`${what} ${describeValue(state)} is not a state of the lifecycle; its states are ${states.join(', ')}.`, state);
    }
  };
  requireState('initial state', options.initial);
  const reached = new Set([options.initial]);
  const frontier = [options.initial];
  while (frontier.length > 0) {
    for (const to of next.get(frontier.pop() as string) ?? []) {
      if (!reached.has(to)) {
        reached.add(to);
        frontier.push(to);
      }
    }
  }
  const unreachable = states.filter((s) => !reached.has(s));
  if (unreachable.length > 0)
    fail(`state(s) ${unreachable.join(', ')} cannot be reached from the initial state ${options.initial}.`, unreachable);
  let leases: Lifecycle['leases'];
  if (options.leases !== undefined) {
    requireState('leases.expireTo', options.leases.expireTo);
    if (options.leases.exhaustedTo !== undefined) requireState('leases.exhaustedTo', options.leases.exhaustedTo);
    const maxAttempts = options.leases.maxAttempts ?? 5;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1)
      fail(`leases.maxAttempts must be a whole number >= 1, got ${describeValue(maxAttempts)}.`, maxAttempts);
    leases = { expireTo: options.leases.expireTo, maxAttempts, exhaustedTo: options.leases.exhaustedTo };
  }
  const previous = new Map<string, string[]>(states.map((s) => [s, []]));
  for (const [from, targets] of next) for (const to of targets) previous.get(to)?.push(from);
  return Object.freeze({
    column,
    initial: options.initial,
    states,
    next,
    previous,
    history: options.history === true,
    leases,
    returns: new Set(leases === undefined ? [] : [leases.expireTo, ...(leases.exhaustedTo === undefined ? [] : [leases.exhaustedTo])]),
    returnFrom: leases === undefined ? [] : states.filter((state) => (next.get(state)?.size ?? 0) > 0),
  });
}
