import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql } from 'kysely';
import type { DdlFlavor } from '../../query/ddl-builder.js';
import type { ListParameters } from '../../query/filter-compiler.js';
import { migrationSql } from '../../schema/migration.js';
import type { DialectAdapter, DialectCapabilities } from '../dialect-adapter.js';
import { sqliteCodec } from './sqlite-codec.js';
import { sqliteLifecycleDdl } from './sqlite-lifecycle-ddl.js';
import { sqliteRollupDdl } from './sqlite-rollup-ddl.js';
import { sqliteTimestampsDdl } from './sqlite-timestamps-ddl.js';

/**
 * SQLite's differences in one object. The file is locked whole for a writer, so there are no row
 * locks to skip; `data_version` reports other connections' commits; a `:memory:` database is
 * private to its process (`file === ':memory:'`).
 */
export function sqliteAdapter(file: string): DialectAdapter {
  const processPrivate = file === ':memory:';
  let adapter = shared.get(processPrivate);
  if (adapter === undefined) {
    adapter = buildSqliteAdapter(processPrivate);
    shared.set(processPrivate, adapter);
  }
  return adapter;
}

/** The builder only compiles and the rest is data: one adapter per kind of file serves every database. */
const shared = new Map<boolean, DialectAdapter>();

function buildSqliteAdapter(processPrivate: boolean): DialectAdapter {
  const builder = createSqliteBuilder();
  const capabilities: DialectCapabilities = Object.freeze({
    skipLocked: false,
    dataVersion: true,
    processPrivate,
    syncSource: true,
    readReplicas: false,
  });
  return Object.freeze({
    name: 'sqlite',
    capabilities,
    codec: sqliteCodec,
    builder,
    lists: SQLITE_LISTS,
    ddl: sqliteDdlFlavor(builder),
    // Local commits are cheap: short batches keep other processes' lock waits short.
    batchTargetMs: 8,
  });
}

/** Kysely as a SQL compiler only: the dummy driver makes sure it never runs anything itself. */
function createSqliteBuilder(): Kysely<any> {
  return new Kysely<any>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
}

/**
 * `$in` / `$nin` lists bound as one JSON array text and read back with json_each, so a list of
 * any length is one parameter (SQLite refuses more than 32,766 by default). The values are
 * already in storage form (integers for booleans and timestamps), which JSON carries exactly;
 * a bigint is written as its digits, which json_each reads back as a 64-bit integer.
 */
const SQLITE_LISTS: ListParameters = {
  membership: (column, _def, parameter, negate) =>
    negate
      ? sql<boolean>`${column} not in (select value from json_each(${parameter}))`
      : sql<boolean>`${column} in (select value from json_each(${parameter}))`,
  parameter: (_def, values) => `[${values.map((v) => (typeof v === 'bigint' ? v.toString() : JSON.stringify(v))).join(',')}]`,
};

/** STRICT tables plus CHECKs keep foreign writers (Python, C++, the CLI) to the declared types. */
function sqliteDdlFlavor(builder: Kysely<any>): DdlFlavor {
  return {
    builder,
    codec: sqliteCodec,
    columnType: { text: 'text', integer: 'integer', real: 'real', boolean: 'integer', json: 'text', timestamp: 'integer', blob: 'blob' },
    check(column) {
      const ref = sql.ref(column.sqlName);
      if (column.type === 'boolean') return sql`${ref} in (0, 1)`;
      if (column.type === 'json') return sql`json_valid(${ref})`;
      return undefined;
    },
    tableSuffix: sql`strict`,
    blobLiteral: (hex) => sql`x${sql.lit(hex)}`,
    lifecycleDdl: (table, lifecycle) => sqliteLifecycleDdl(builder, table, lifecycle),
    timestampsDdl: (table) => sqliteTimestampsDdl(builder, table),
    rollupDdl: (table, policy) => sqliteRollupDdl(builder, table, policy),
    // Other processes on the file see commits through PRAGMA data_version: no trigger needed.
    changeNotifyDdl: () => [],
    migrationSql: (migration) => migrationSql(migration, 'sqlite'),
  };
}
