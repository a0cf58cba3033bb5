import { closestName, describeValue, SluiceError } from '../errors/sluice-error.js';
import { COLUMN_TYPES, type ColumnSpec, type ColumnType } from './column-types.js';
import type { ColumnsSpec, InsertOf, KeyOf, PatchOf, PrimaryKeySpec, RowOf } from './table-types.js';

/** The runtime description of one column. */
export interface ColumnDef {
  /** The name callers use. */
  readonly name: string;
  /** The name in the database: snake_case of `name`, so foreign writers need no quoting. */
  readonly sqlName: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
  /** Produces the default for one insert, or undefined when there is none. */
  readonly makeDefault: (() => unknown) | undefined;
  /** A constant default that the DDL can carry for foreign writers. */
  readonly constantDefault: unknown;
}

export interface TableOptions<C extends ColumnsSpec, PK extends PrimaryKeySpec<C>> {
  columns: C;
  primaryKey: PK;
  /** Unique constraints: a column name or a list of them per constraint. */
  unique?: readonly ((keyof C & string) | readonly (keyof C & string)[])[];
  /** Secondary indexes, as lists of column names. */
  indexes?: readonly ((keyof C & string) | readonly (keyof C & string)[])[];
}

/** A table definition: one value serves both dialects and carries the row types. */
export interface TableDef<
  Name extends string = string,
  C extends ColumnsSpec = ColumnsSpec,
  PK extends PrimaryKeySpec<C> = PrimaryKeySpec<C>,
> {
  readonly name: Name;
  readonly columns: readonly ColumnDef[];
  readonly columnsByName: ReadonlyMap<string, ColumnDef>;
  readonly primaryKey: readonly ColumnDef[];
  readonly unique: readonly (readonly ColumnDef[])[];
  readonly indexes: readonly (readonly ColumnDef[])[];
  /** Type carriers only; never set at runtime. */
  readonly $row?: RowOf<C>;
  readonly $insert?: InsertOf<C>;
  readonly $patch?: PatchOf<C, PK>;
  readonly $key?: KeyOf<C, PK>;
}

export type AnyTableDef = TableDef<string, ColumnsSpec, PrimaryKeySpec<ColumnsSpec>>;
export type RowType<T> = T extends { readonly $row?: infer R } ? Exclude<R, undefined> : never;
export type InsertType<T> = T extends { readonly $insert?: infer R } ? Exclude<R, undefined> : never;
export type PatchType<T> = T extends { readonly $patch?: infer R } ? Exclude<R, undefined> : never;
export type KeyType<T> = T extends { readonly $key?: infer R } ? Exclude<R, undefined> : never;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const TABLE_OPTIONS = ['columns', 'primaryKey', 'unique', 'indexes'];

export function defineTable<const Name extends string, const C extends ColumnsSpec, const PK extends PrimaryKeySpec<C>>(
  name: Name,
  options: TableOptions<C, PK>,
): TableDef<Name, C, PK> {
  checkIdentifier(name, `table name ${describeValue(name)}`);
  if (name.startsWith('_sluice')) {
    throw new SluiceError('CONFIG', `Table name "${name}" is reserved: names starting with _sluice hold Sluice's own state.`);
  }
  for (const key of Object.keys(options)) {
    if (!TABLE_OPTIONS.includes(key)) {
      const hint = closestName(key, TABLE_OPTIONS);
      throw new SluiceError('CONFIG', `Table ${name}: unknown option "${key}"${hint ? `; did you mean "${hint}"?` : ''}.`);
    }
  }
  const specs = Object.entries(options.columns ?? {});
  if (specs.length === 0) throw new SluiceError('CONFIG', `Table ${name} declares no columns.`, { table: name });
  const columns = specs.map(([columnName, spec]) => defineColumn(name, columnName, spec));
  const columnsByName = new Map(columns.map((c) => [c.name, c]));
  const sqlNames = new Set<string>();
  for (const column of columns) {
    if (sqlNames.has(column.sqlName)) {
      throw new SluiceError('CONFIG', `Table ${name}: two columns map to the database name "${column.sqlName}".`, {
        table: name,
        column: column.name,
      });
    }
    sqlNames.add(column.sqlName);
  }
  const resolve = (what: string, list: unknown): ColumnDef[] => {
    const names = Array.isArray(list) ? list : [list];
    if (names.length === 0) throw new SluiceError('CONFIG', `Table ${name}: ${what} names no column.`, { table: name });
    return names.map((n) => {
      const column = typeof n === 'string' ? columnsByName.get(n) : undefined;
      if (!column) {
        const hint = typeof n === 'string' ? closestName(n, [...columnsByName.keys()]) : undefined;
        throw new SluiceError(
          'CONFIG',
          `Table ${name}: ${what} names unknown column ${describeValue(n)}${hint ? `; did you mean "${hint}"?` : ''}.`,
          { table: name, value: n },
        );
      }
      return column;
    });
  };
  const primaryKey = resolve('primaryKey', options.primaryKey);
  for (const column of primaryKey) {
    if (column.nullable) {
      throw new SluiceError('CONFIG', `Table ${name}: primary key column ${column.name} cannot be nullable.`, {
        table: name,
        column: column.name,
      });
    }
  }
  const table: TableDef<Name, C, PK> = {
    name,
    columns: Object.freeze(columns),
    columnsByName,
    primaryKey: Object.freeze(primaryKey),
    unique: Object.freeze((options.unique ?? []).map((u) => Object.freeze(resolve('unique', u)))),
    indexes: Object.freeze((options.indexes ?? []).map((i) => Object.freeze(resolve('indexes', i)))),
  };
  return Object.freeze(table);
}

function defineColumn(table: string, name: string, spec: ColumnSpec): ColumnDef {
  checkIdentifier(name, `table ${table}: column name ${describeValue(name)}`);
  let type: string;
  let nullable = false;
  let def: unknown;
  let hasDefault = false;
  if (typeof spec === 'string') {
    nullable = spec.endsWith('?');
    type = nullable ? spec.slice(0, -1) : spec;
  } else if (spec !== null && typeof spec === 'object') {
    type = spec.type;
    nullable = spec.nullable === true;
    hasDefault = 'default' in spec && spec.default !== undefined;
    def = spec.default;
  } else {
    throw new SluiceError(
      'CONFIG',
      `Table ${table}: column ${name} has spec ${describeValue(spec)}; expected a type name such as 'text' or { type, nullable, default }.`,
    );
  }
  if (!(COLUMN_TYPES as readonly string[]).includes(type)) {
    const hint = closestName(type, COLUMN_TYPES);
    throw new SluiceError(
      'CONFIG',
      `Table ${table}: column ${name} has unknown type ${describeValue(type)}; expected one of ${COLUMN_TYPES.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}.`,
      { table, column: name },
    );
  }
  const isFunction = typeof def === 'function';
  if (hasDefault && def === null && !nullable) {
    throw new SluiceError('CONFIG', `Table ${table}: column ${name} defaults to null but is not nullable.`, { table, column: name });
  }
  return Object.freeze({
    name,
    sqlName: toSnakeCase(name),
    type: type as ColumnType,
    nullable,
    hasDefault: hasDefault || nullable,
    makeDefault: hasDefault ? (isFunction ? (def as () => unknown) : () => def) : nullable ? () => null : undefined,
    constantDefault: hasDefault && !isFunction ? def : undefined,
  });
}

function checkIdentifier(name: unknown, what: string): void {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new SluiceError(
      'CONFIG',
      `The ${what} is not a plain identifier: use letters, digits and underscores, starting with a letter or underscore, at most 63 characters.`,
      { value: name },
    );
  }
}

export function toSnakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
