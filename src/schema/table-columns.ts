import { describeValue, didYouMean, SluiceError } from '../core/sluice-error.js';
import { COLUMN_TYPES, type ColumnDef, type ColumnSpec, type ColumnType } from './column-types.js';
import { LEASE_COLUMNS, type LifecycleOptions } from './lifecycle-policy.js';
import { TIMESTAMP_COLUMNS, type TimestampPolicy, timestampColumnDefs } from './timestamp-columns.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * A table's columns, checked: the declared ones, then those its options add (lease columns,
 * `createdAt`/`updatedAt`), each mapped to a database name no other column of the table takes.
 */
export function buildColumns(
  table: string,
  declared: readonly [string, ColumnSpec][],
  lifecycle: LifecycleOptions | undefined,
  timestampsOption: unknown,
): { columns: ColumnDef[]; timestamps: TimestampPolicy | undefined } {
  const specs = withLifecycleColumns(table, declared, lifecycle);
  if (specs.length === 0) throw new SluiceError('CONFIG', `Table ${table} declares no columns.`, { table });
  const columns = specs.map(([columnName, spec]) => defineColumn(table, columnName, spec));
  const timestamps = resolveTimestamps(table, timestampsOption, declared);
  if (timestamps) columns.push(timestamps.createdAt, timestamps.updatedAt);
  const sqlNames = new Set<string>();
  for (const column of columns) {
    if (sqlNames.has(column.sqlName)) {
      throw new SluiceError('CONFIG', `Table ${table}: two columns map to the database name "${column.sqlName}".`, {
        table,
        column: column.name,
      });
    }
    sqlNames.add(column.sqlName);
  }
  return { columns, timestamps };
}

/** The declared specs plus a leased lifecycle's lease columns, with the lifecycle's initial state as its column's default. */
function withLifecycleColumns(
  table: string,
  declared: readonly [string, ColumnSpec][],
  lifecycle: LifecycleOptions | undefined,
): [string, ColumnSpec][] {
  if (lifecycle?.leases !== undefined) {
    for (const leaseColumn of Object.keys(LEASE_COLUMNS)) {
      if (declared.some(([n]) => n === leaseColumn)) {
        throw new SluiceError('CONFIG', `Table ${table}: column ${leaseColumn} is added by lifecycle.leases; do not declare it yourself.`, {
          table,
          column: leaseColumn,
        });
      }
    }
  }
  const specs =
    lifecycle?.leases === undefined ? [...declared] : [...declared, ...(Object.entries(LEASE_COLUMNS) as [string, ColumnSpec][])];
  if (lifecycle && typeof lifecycle.column === 'string' && typeof lifecycle.initial === 'string') {
    // The initial state is the lifecycle column's default, for our inserts and foreign ones alike.
    const at = specs.findIndex(([n]) => n === lifecycle.column);
    const spec = specs[at];
    if (spec && spec[1] === 'text') specs[at] = [spec[0], { type: 'text', default: lifecycle.initial }];
  }
  return specs;
}

/** Looks up the columns an option names (one name or a list), refusing an empty list or an unknown name. */
export function columnResolver(table: string, columnsByName: ReadonlyMap<string, ColumnDef>): (what: string, list: unknown) => ColumnDef[] {
  return (what, list) => {
    const names = Array.isArray(list) ? list : [list];
    if (names.length === 0) throw new SluiceError('CONFIG', `Table ${table}: ${what} names no column.`, { table });
    return names.map((n) => {
      const column = typeof n === 'string' ? columnsByName.get(n) : undefined;
      if (!column) {
        const hint = typeof n === 'string' ? didYouMean(n, [...columnsByName.keys()]) : '';
        throw new SluiceError('CONFIG', `Table ${table}: ${what} names unknown column ${describeValue(n)}${hint}.`, {
          table,
          value: n,
        });
      }
      return column;
    });
  };
}

function resolveTimestamps(table: string, option: unknown, declared: readonly [string, ColumnSpec][]): TimestampPolicy | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true)
    throw new SluiceError('CONFIG', `Table ${table}: timestamps must be true or false, got ${describeValue(option)}.`, { table });
  for (const column of Object.keys(TIMESTAMP_COLUMNS)) {
    if (declared.some(([n]) => n === column)) {
      throw new SluiceError('CONFIG', `Table ${table}: column ${column} is added by timestamps: true; do not declare it yourself.`, {
        table,
        column,
      });
    }
  }
  const [createdAt, updatedAt] = timestampColumnDefs();
  return Object.freeze({ createdAt, updatedAt });
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
    throw new SluiceError(
      'CONFIG',
      `Table ${table}: column ${name} has unknown type ${describeValue(type)}${didYouMean(type, COLUMN_TYPES)} Expected one of ${COLUMN_TYPES.join(', ')}.`,
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

export function checkIdentifier(name: unknown, what: string): void {
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
