import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { DdlFlavor } from '../../query/ddl-builder.js';
import { type ListParameters, withListParameters } from '../../query/filter-compiler.js';
import type { ColumnType } from '../../schema/column-types.js';
import { migrationSql } from '../../schema/migration.js';
import { postgresCodec } from './postgres-codec.js';
import { postgresLifecycleDdl } from './postgres-lifecycle-ddl.js';
import { postgresNotifyDdl } from './postgres-notify-ddl.js';
import { postgresRollupDdl } from './postgres-rollup-ddl.js';
import { postgresTimestampsDdl } from './postgres-timestamps-ddl.js';

/** Kysely as a SQL compiler only: the dummy driver makes sure it never runs anything itself. */
export function createPostgresBuilder(): Kysely<any> {
  const builder = new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return withListParameters(builder, POSTGRES_LISTS);
}

/**
 * `$in` as `= any($1::type[])`: one array parameter, whatever its length, and an index scan on
 * the column; `$nin` as `<> all(…)`, the same test as NOT IN for a list without NULLs.
 */
const POSTGRES_LISTS: ListParameters = {
  membership: (column, def, parameter, negate) =>
    negate
      ? sql<boolean>`${column} <> all(${parameter}::${sql.raw(POSTGRES_ARRAY_TYPES[def.type])})`
      : sql<boolean>`${column} = any(${parameter}::${sql.raw(POSTGRES_ARRAY_TYPES[def.type])})`,
  parameter: (_def, values) => values,
};

/**
 * Storage types. Text compares in the "C" collation, byte order, as SQLite does: a filter or an
 * ORDER BY means the same on both dialects, and a cursor taken on one never skips rows on the other.
 */
export const POSTGRES_COLUMN_TYPES: Readonly<Record<ColumnType, string>> = {
  text: 'text collate "C"',
  integer: 'bigint',
  real: 'double precision',
  boolean: 'boolean',
  json: 'jsonb',
  timestamp: 'timestamptz',
  blob: 'bytea',
};

/** The array type one unnest() argument carries for a column of each type. */
export const POSTGRES_ARRAY_TYPES: Readonly<Record<ColumnType, string>> = {
  text: 'text[]',
  integer: 'bigint[]',
  real: 'double precision[]',
  boolean: 'boolean[]',
  json: 'jsonb[]',
  timestamp: 'timestamptz[]',
  blob: 'bytea[]',
};

/** The native types already hold foreign writers to the declared types: no CHECK is needed. */
export function postgresDdlFlavor(builder: Kysely<any>): DdlFlavor {
  return {
    builder,
    codec: postgresCodec,
    columnType: POSTGRES_COLUMN_TYPES,
    check: () => undefined,
    blobLiteral: (hex) => sql`${sql.lit(`\\x${hex}`)}::bytea`,
    lifecycleDdl: (table, lifecycle) => postgresLifecycleDdl(builder, table, lifecycle),
    timestampsDdl: (table) => postgresTimestampsDdl(builder, table),
    rollupDdl: (table, policy) => postgresRollupDdl(builder, table, policy),
    changeNotifyDdl: (table) => postgresNotifyDdl(builder, table),
    migrationSql: (migration) => migrationSql(migration, 'postgres'),
  };
}

/** An identifier quoted for PostgreSQL (the schema option is checked to be a plain identifier). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
