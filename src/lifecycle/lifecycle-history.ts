import type { CompiledQuery, Kysely } from 'kysely';
import { SluiceError } from '../core/sluice-error.js';
import type { Lifecycle } from '../schema/lifecycle-policy.js';

/** The query behind `history(key)`: the trigger stores a single key as its text form. */
export function historyQuery(builder: Kysely<any>, table: string, lifecycle: Lifecycle, key: readonly unknown[]): CompiledQuery {
  if (!lifecycle.history) {
    throw new SluiceError('CONFIG', `${table} keeps no history; add lifecycle.history: true to its definition.`, { table });
  }
  if (key.length !== 1) {
    throw new SluiceError(
      'VALIDATION',
      `history() on ${table} takes a single-column key; with a composite key, read ${table}_history by row_key (a JSON array).`,
      { table },
    );
  }
  const value = key[0];
  return builder
    .selectFrom(`${table}_history`)
    .select(['from_state as from', 'to_state as to', 'at', 'actor'])
    .where('row_key', '=', Buffer.isBuffer(value) ? value.toString('hex') : String(value))
    .orderBy('id')
    .compile();
}
