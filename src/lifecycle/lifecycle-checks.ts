import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';
import type { JsRow, RowCodec } from '../schema/row-codec.js';
import { refuseLeaseInPatch } from './caller-writes.js';

/** The checks a lifecycle call makes on its arguments before anything is queued: each names the table, the call and the value. */

export function requireLeases(table: string, lifecycle: Lifecycle, what: string): NonNullable<Lifecycle['leases']> {
  if (!lifecycle.leases) {
    throw new SluiceError(
      'CONFIG',
      `Cannot ${what} on ${table}: its lifecycle declares no leases. Add lifecycle.leases: { expireTo } to the table.`,
      { table },
    );
  }
  return lifecycle.leases;
}

export function requireToken(table: string, call: string, token: unknown): void {
  if (!Number.isSafeInteger(token) || (token as number) < 0) {
    throw new SluiceError(
      'VALIDATION',
      `${call} on ${table}: the token is the attempt a claim returned (a whole number >= 0), got ${describeValue(token)}.`,
      { table, column: 'attempt', value: token },
    );
  }
}

export function requireLease(table: string, call: string, leaseMs: unknown): void {
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new SluiceError(
      'VALIDATION',
      `${call} on ${table}: leaseMs must be a positive, finite number of milliseconds, got ${describeValue(leaseMs)}.`,
      { table, value: leaseMs },
    );
  }
}

export function requireClaimLimit(table: string, limit: unknown): void {
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > 10_000) {
    throw new SluiceError('VALIDATION', `claim on ${table}: limit must be a whole number from 1 to 10,000, got ${describeValue(limit)}.`, {
      table,
      value: limit,
    });
  }
}

export function requireOwner(table: string, owner: unknown): void {
  if (typeof owner !== 'string' || owner.length === 0) {
    throw new SluiceError('VALIDATION', `claim on ${table}: owner must name the worker, got ${describeValue(owner)}.`, {
      table,
      value: owner,
    });
  }
}

/** The other columns a transition changes: never the state (that is `to`) nor the lease (the move settles it). */
export function transitionSet(codec: RowCodec, lifecycle: Lifecycle, set: unknown): JsRow {
  const table = codec.table.name;
  if (set === undefined) return {};
  if (set === null || typeof set !== 'object' || Array.isArray(set)) {
    throw new SluiceError('VALIDATION', `transition on ${table}: set must be an object of columns to change, got ${describeValue(set)}.`, {
      table,
      value: set,
    });
  }
  const patch = set as JsRow;
  const column = lifecycle.column.name;
  if (patch[column] !== undefined) {
    throw new SluiceError(
      'VALIDATION',
      `transition on ${table}: set names the state column ${column} (${describeValue(patch[column])}); the target state is the second argument.`,
      { table, column, value: patch[column] },
    );
  }
  refuseLeaseInPatch(codec.table, patch, 'a transition');
  return patch;
}
