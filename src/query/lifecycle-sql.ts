import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { TableDef } from '../schema/define-table.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';

/** Names of the database objects a lifecycle installs, shared by both dialects' DDL. */
export function lifecycleNames(table: TableDef, lifecycle: Lifecycle) {
  const base = `${table.name}_${lifecycle.column.sqlName}`;
  return {
    history: `${table.name}_history`,
    guardInsert: `${base}_lifecycle_insert`,
    guardUpdate: `${base}_lifecycle_update`,
    recordInsert: `${base}_history_insert`,
    recordUpdate: `${base}_history_update`,
    function: `${base}_lifecycle`,
    /** Refuses a change that lowers `attempt`, the fencing token. */
    attemptGuard: `${table.name}_attempt_guard`,
  };
}

/**
 * `(old = 'a' and new in ('b','c')) or …`: the allowed moves as SQL over two row references. With
 * leases, `old.lease_owner is not null and new in (expireTo, exhaustedTo)` too: a claimed row may
 * always be handed back, whatever state its claim moved it to (`Lifecycle.returns`).
 */
export function allowedMoves(lifecycle: Lifecycle, from: RawBuilder<unknown>, to: RawBuilder<unknown>): RawBuilder<unknown> {
  const moves = [...lifecycle.next]
    .filter(([, targets]) => targets.size > 0)
    .map(([source, targets]) => sql`(${from} = ${sql.lit(source)} and ${to} in (${sql.join([...targets].map((t) => sql.lit(t)))}))`);
  if (lifecycle.returns.size > 0 && lifecycle.returnFrom.length > 0) {
    const into = sql.join([...lifecycle.returns].map((t) => sql.lit(t)));
    const out = sql.join(lifecycle.returnFrom.map((t) => sql.lit(t)));
    moves.push(sql`(old.lease_owner is not null and ${from} in (${out}) and ${to} in (${into}))`);
  }
  return moves.length === 0 ? sql`1 = 0` : sql`(${sql.join(moves, sql` or `)})`;
}

export function stateList(lifecycle: Lifecycle): RawBuilder<unknown> {
  return sql`(${sql.join(lifecycle.states.map((s) => sql.lit(s)))})`;
}

/** The message a foreign writer sees when the database refuses its change. */
export function illegalMessage(table: TableDef, lifecycle: Lifecycle): string {
  const moves = [...lifecycle.next]
    .filter(([, targets]) => targets.size > 0)
    .map(([source, targets]) => `${source}->${[...targets].join('|')}`);
  if (lifecycle.returns.size > 0)
    moves.push(`(a row holding a lease, from ${lifecycle.returnFrom.join('|')})->${[...lifecycle.returns].join('|')}`);
  return `sluice: illegal lifecycle transition on ${table.name}.${lifecycle.column.sqlName}; allowed: ${moves.join(', ')}`;
}

/**
 * The message a writer sees when it lowers `attempt`: a lower token would let a worker whose claim
 * was superseded settle the row again.
 */
export function attemptMessage(table: TableDef): string {
  return `sluice: attempt on ${table.name} is the fencing token of its claims and never decreases; only a claim raises it (attempt = attempt + 1)`;
}

export function compileDdl(builder: Kysely<any>, statement: RawBuilder<unknown>): string {
  return statement.compile(builder).sql;
}
