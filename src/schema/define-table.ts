import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import { resolveTablePolicy, type TableCachePolicy, type TableCachePolicyInput } from './cache-policy.js';
import type { ColumnDef, ColumnSpec } from './column-types.js';
import { type LeaseColumns, type Lifecycle, type LifecycleOptions, type LifecycleStates, resolveLifecycle } from './lifecycle-policy.js';
import { resolveSyncPolicy, type SyncPolicy } from './sync-policy.js';
import { buildColumns, checkIdentifier, columnResolver } from './table-columns.js';
import type { ColumnsSpec, InsertOf, KeyOf, PatchOf, PrimaryKeySpec, RowOf } from './table-types.js';
import type { TimestampColumns, TimestampPolicy } from './timestamp-columns.js';

export type { ColumnDef } from './column-types.js';

export interface TableOptions<C extends ColumnsSpec, PK extends PrimaryKeySpec<C>> {
  columns: C;
  primaryKey: PK;
  /** Unique constraints: a column name or a list of them per constraint. */
  unique?: readonly ((keyof C & string) | readonly (keyof C & string)[])[];
  /**
   * Secondary indexes, as lists of column names; the columns `timestamps` and `lifecycle.leases`
   * add may be named too (an index on `['status', 'runAt']` serves a worker's claims).
   */
  indexes?: readonly (IndexColumn<C> | readonly IndexColumn<C>[])[];
  /** Cache reads of this table: `{ ttlMs, maxEntries, maxBytes?, l2?, negativeTtlMs?, queries? }`. Default: not cached. */
  cache?: TableCachePolicyInput;
  /** Delete rows whose timestamp `column` is older than `maxAgeMs`, in small batches (`db.runRetention()`). */
  retention?: { readonly column: keyof C & string; readonly maxAgeMs: number };
  /** A state machine over one text column: `{ column, initial, transitions, history?, leases? }`. */
  lifecycle?: LifecycleOptions & { readonly column: keyof C & string };
  /** Ship every committed change to the sync target: `true` (upsert on the primary key) or `{ key }` (another unique key). */
  sync?: true | { readonly key: (keyof C & string) | readonly (keyof C & string)[] };
  /**
   * Keep `createdAt` and `updatedAt` (Dates): set by Sluice on insert and on every change, and by
   * database triggers for foreign writers. Callers may pass them on insert (an import keeps its
   * history) but never in a patch. Default false.
   */
  timestamps?: boolean;
}

/** A column an index may name: a declared one, or one that `timestamps` or leases add (checked when defined). */
type IndexColumn<C> = (keyof C & string) | keyof TimestampColumns | keyof LeaseColumns;

/** The columns a definition ends up with: leased lifecycles add their lease columns, `timestamps` its two. */
export type TableColumns<C extends ColumnsSpec, O> = (O extends { readonly lifecycle: { readonly leases: object } }
  ? C & LeaseColumns
  : C) &
  (O extends { readonly timestamps: true } ? TimestampColumns : unknown);
/** The lifecycle column may be left out of an insert: it defaults to the initial state. */
/** The states of a table's lifecycle; `never` when it declares none. */
export type StatesOf<O> = O extends { readonly lifecycle: { readonly transitions: infer T } } ? LifecycleStates<T> : never;
export type ImpliedColumns<O> = O extends { readonly lifecycle: { readonly column: infer K extends string } } ? K : never;

/** A table definition: one value serves both dialects and carries the row types. */
export interface TableDef<
  Name extends string = string,
  C extends ColumnsSpec = ColumnsSpec,
  PK extends string | readonly string[] = PrimaryKeySpec<C>,
  Implied extends string = never,
  States extends string = string,
> {
  readonly name: Name;
  readonly columns: readonly ColumnDef[];
  readonly columnsByName: ReadonlyMap<string, ColumnDef>;
  readonly primaryKey: readonly ColumnDef[];
  readonly unique: readonly (readonly ColumnDef[])[];
  readonly indexes: readonly (readonly ColumnDef[])[];
  /** The table's cache policy, checked; undefined when reads are not cached. */
  readonly cache?: TableCachePolicy;
  readonly retention?: { readonly column: ColumnDef; readonly maxAgeMs: number };
  /** The table's lifecycle, checked; undefined when it declares none. */
  readonly lifecycle?: Lifecycle;
  /** The table's sync declaration, checked; undefined when it is not shipped. */
  readonly sync?: SyncPolicy;
  /** `createdAt` / `updatedAt` when the table keeps them (`timestamps: true`). */
  readonly timestamps?: TimestampPolicy;
  /** Type carriers only; never set at runtime. */
  readonly $row?: RowOf<C>;
  readonly $insert?: InsertOf<C, Implied>;
  readonly $patch?: PatchOf<C, PK>;
  readonly $key?: KeyOf<C, PK>;
  readonly $state?: States;
}

export type AnyTableDef = TableDef<string, ColumnsSpec, PrimaryKeySpec<ColumnsSpec>>;
export type RowType<T> = T extends { readonly $row?: infer R } ? Exclude<R, undefined> : never;
export type InsertType<T> = T extends { readonly $insert?: infer R } ? Exclude<R, undefined> : never;
export type PatchType<T> = T extends { readonly $patch?: infer R } ? Exclude<R, undefined> : never;
export type KeyType<T> = T extends { readonly $key?: infer R } ? Exclude<R, undefined> : never;
/** The lifecycle states of a table definition, as a union of string literals. */
export type StateType<T> = T extends { readonly $state?: infer S extends string } ? Exclude<S, undefined> : string;

const TABLE_OPTIONS = ['columns', 'primaryKey', 'unique', 'indexes', 'cache', 'lifecycle', 'retention', 'sync', 'timestamps'];
/** Set only while defineSluiceTable runs: Sluice's own tables may use the reserved prefix. */
let allowReserved = false;

/** defineTable for Sluice's own state (`_sluice_*` tables); not part of the public API. */
export const defineSluiceTable: typeof defineTable = (name, options) => {
  allowReserved = true;
  try {
    return defineTable(name, options);
  } finally {
    allowReserved = false;
  }
};

export function defineTable<
  const Name extends string,
  const C extends ColumnsSpec,
  const PK extends PrimaryKeySpec<C>,
  const O extends TableOptions<C, PK>,
>(name: Name, options: O & TableOptions<C, PK>): TableDef<Name, TableColumns<C, O>, PK, ImpliedColumns<O>, StatesOf<O>> {
  checkIdentifier(name, `table name ${describeValue(name)}`);
  if (!allowReserved && name.startsWith('_sluice')) {
    throw new SluiceError('CONFIG', `Table name "${name}" is reserved: names starting with _sluice hold Sluice's own state.`);
  }
  for (const key of Object.keys(options)) {
    if (!TABLE_OPTIONS.includes(key)) {
      throw new SluiceError('CONFIG', `Table ${name}: unknown option "${key}"${didYouMean(key, TABLE_OPTIONS)}.`);
    }
  }
  const declared = Object.entries(options.columns ?? {}) as [string, ColumnSpec][];
  const lifecycleOptions = options.lifecycle;
  const { columns, timestamps } = buildColumns(name, declared, lifecycleOptions, options.timestamps);
  const columnsByName = new Map(columns.map((c) => [c.name, c]));
  const resolve = columnResolver(name, columnsByName);
  const primaryKey = resolve('primaryKey', options.primaryKey);
  for (const column of primaryKey) {
    if (column.nullable) {
      throw new SluiceError('CONFIG', `Table ${name}: primary key column ${column.name} cannot be nullable.`, {
        table: name,
        column: column.name,
      });
    }
  }
  const unique = Object.freeze((options.unique ?? []).map((u) => Object.freeze(resolve('unique', u))));
  const table: TableDef = {
    name,
    columns: Object.freeze(columns),
    columnsByName,
    primaryKey: Object.freeze(primaryKey),
    unique,
    indexes: Object.freeze((options.indexes ?? []).map((i) => Object.freeze(resolve('indexes', i)))),
    ...(options.cache === undefined ? {} : { cache: resolveTablePolicy(name, options.cache) }),
    ...(lifecycleOptions === undefined ? {} : { lifecycle: resolveLifecycle(name, lifecycleOptions, columnsByName) }),
    ...(options.retention === undefined ? {} : { retention: resolveRetention(name, options.retention, columnsByName) }),
    ...(options.sync === undefined ? {} : syncOf(resolveSyncPolicy(name, options.sync, primaryKey, unique, columnsByName))),
    ...(timestamps === undefined ? {} : { timestamps }),
  };
  return Object.freeze(table) as TableDef as TableDef<Name, TableColumns<C, O>, PK, ImpliedColumns<O>, StatesOf<O>>;
}

function syncOf(policy: SyncPolicy | undefined): { sync?: SyncPolicy } {
  return policy === undefined ? {} : { sync: policy };
}

function resolveRetention(table: string, retention: { column: string; maxAgeMs: number }, columns: ReadonlyMap<string, ColumnDef>) {
  const column = columns.get(retention?.column);
  if (column?.type !== 'timestamp') {
    throw new SluiceError(
      'CONFIG',
      `Table ${table}: retention.column must name a timestamp column, got ${describeValue(retention?.column)}.`,
      { table },
    );
  }
  if (!Number.isFinite(retention.maxAgeMs) || retention.maxAgeMs <= 0) {
    throw new SluiceError(
      'CONFIG',
      `Table ${table}: retention.maxAgeMs must be a positive number of milliseconds, got ${describeValue(retention.maxAgeMs)}.`,
      { table },
    );
  }
  return Object.freeze({ column, maxAgeMs: retention.maxAgeMs });
}
