import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef } from './column-types.js';

/** A table's sync declaration, checked: which unique key the central copy upserts on. */
export interface SyncPolicy {
  /** The conflict key on the target: the primary key unless `sync: { key }` names another unique key. */
  readonly key: readonly ColumnDef[];
}

export type SyncPolicyInput = true | { readonly key: string | readonly string[] };

/** Checks `sync: true | { key }`: the key must be the primary key or one of the declared unique constraints. */
export function resolveSyncPolicy(
  table: string,
  input: unknown,
  primaryKey: readonly ColumnDef[],
  unique: readonly (readonly ColumnDef[])[],
  columns: ReadonlyMap<string, ColumnDef>,
): SyncPolicy | undefined {
  if (input === false) return undefined;
  if (input === true) return Object.freeze({ key: primaryKey });
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new SluiceError('CONFIG', `Table ${table}: sync must be true or { key: [...] }, got ${describeValue(input)}.`, { table });
  }
  const extra = Object.keys(input).filter((k) => k !== 'key');
  if (extra.length > 0)
    throw new SluiceError('CONFIG', `Table ${table}: sync has unknown option "${extra[0]}"; only key is known.`, { table });
  const given = (input as { key?: unknown }).key;
  const names = Array.isArray(given) ? given : [given];
  const key = names.map((name) => {
    const column = typeof name === 'string' ? columns.get(name) : undefined;
    if (!column)
      throw new SluiceError('CONFIG', `Table ${table}: sync.key names unknown column ${describeValue(name)}.`, { table, value: name });
    return column;
  });
  const same = (a: readonly ColumnDef[]) => a.length === key.length && a.every((c) => key.includes(c));
  if (!same(primaryKey) && !unique.some(same)) {
    throw new SluiceError(
      'CONFIG',
      `Table ${table}: sync.key (${key.map((c) => c.name).join(', ')}) is neither the primary key nor a declared unique constraint; the target upserts on it, so declare it in unique: [...].`,
      { table },
    );
  }
  for (const column of key) {
    if (column.nullable) {
      throw new SluiceError('CONFIG', `Table ${table}: sync.key column ${column.name} is nullable; a conflict key must not be.`, {
        table,
        column: column.name,
      });
    }
  }
  return Object.freeze({ key: Object.freeze(key) });
}
