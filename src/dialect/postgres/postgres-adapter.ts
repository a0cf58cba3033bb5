import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { DdlFlavor } from '../../query/ddl-builder.js';
import type { ListParameters } from '../../query/filter-compiler.js';
import { migrationSql } from '../../schema/migration.js';
import type { DialectAdapter } from '../dialect-adapter.js';
import { postgresCodec } from './postgres-codec.js';
import { postgresLifecycleDdl } from './postgres-lifecycle-ddl.js';
import { postgresNotifyDdl } from './postgres-notify-ddl.js';
import { postgresRollupDdl } from './postgres-rollup-ddl.js';
import { postgresTimestampsDdl } from './postgres-timestamps-ddl.js';
import { POSTGRES_ARRAY_TYPES, POSTGRES_COLUMN_TYPES } from './postgres-types.js';

/**
 * PostgreSQL's differences in one object (openGauss too: its upsert variant is the batch
 * runner's). Row locks let concurrent claimers skip each other's rows; there is no
 * cross-connection commit counter (other clients' commits arrive by NOTIFY instead).
 */
export function postgresAdapter(): DialectAdapter {
  shared ??= buildPostgresAdapter();
  return shared;
}

/** The builder only compiles and the rest is data: one adapter serves every database and option check. */
let shared: DialectAdapter | undefined;

function buildPostgresAdapter(): DialectAdapter {
  const builder = createPostgresBuilder();
  return Object.freeze({
    name: 'postgres',
    capabilities: Object.freeze({ skipLocked: true, dataVersion: false, processPrivate: false, syncSource: false, readReplicas: true }),
    codec: postgresCodec,
    builder,
    lists: POSTGRES_LISTS,
    ddl: postgresDdlFlavor(builder),
    // A commit is a network round trip plus an fsync: longer batches amortise it (8 ms starved the
    // queue under load; 30 ms doubled rows/s and lowered ack p99).
    batchTargetMs: 30,
  });
}

/** Kysely as a SQL compiler only: the dummy driver makes sure it never runs anything itself. */
function createPostgresBuilder(): Kysely<any> {
  return new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
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

/** The native types already hold foreign writers to the declared types: no CHECK is needed. */
function postgresDdlFlavor(builder: Kysely<any>): DdlFlavor {
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
