import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql } from 'kysely';
import type { DdlFlavor } from '../../query/ddl-builder.js';
import { withListParameters } from '../../query/filter-compiler.js';
import { migrationSql } from '../../schema/migration.js';
import { sqliteCodec } from './sqlite-codec.js';
import { sqliteLifecycleDdl } from './sqlite-lifecycle-ddl.js';
import { SQLITE_LISTS } from './sqlite-lists.js';
import { sqliteRollupDdl } from './sqlite-rollup-ddl.js';
import { sqliteTimestampsDdl } from './sqlite-timestamps-ddl.js';

/** Kysely as a SQL compiler only: the dummy driver makes sure it never runs anything itself. */
export function createSqliteBuilder(): Kysely<any> {
  const builder = new Kysely<any>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  return withListParameters(builder, SQLITE_LISTS);
}

/** STRICT tables plus CHECKs keep foreign writers (Python, C++, the CLI) to the declared types. */
export function sqliteDdlFlavor(builder: Kysely<any>): DdlFlavor {
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
