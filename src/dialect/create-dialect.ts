import type { Durability } from '../core/kinds.js';
import { SluiceError } from '../core/sluice-error.js';
import type { Dialect } from './dialect.js';
import type { DialectAdapter } from './dialect-adapter.js';
import { postgresAdapter } from './postgres/postgres-adapter.js';
import { sqliteAdapter } from './sqlite/sqlite-adapter.js';

/** Everything a dialect needs to open, already validated by the caller. */
export interface DialectConfig {
  readonly url: string;
  readonly durability: Durability;
  /** How long a lock wait may last before it counts as BUSY (SQLite's migration lock). */
  readonly lockTimeoutMs: number;
  readonly sqlite: {
    readonly cacheKiB: number;
    readonly walMaxBytes: number;
    readonly checkpointIntervalMs: number;
    readonly create: boolean;
  };
  readonly postgres: {
    readonly schema?: string | undefined;
    readonly poolSize: number;
    readonly pooler?: 'transaction' | undefined;
    readonly replicas?: readonly string[];
    readonly maxReplicaLagMs?: number;
  };
}

export type DatabaseLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema?: string };

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function parseUrl(url: string): DatabaseLocation {
  if (url === ':memory:' || url === 'sqlite::memory:') return { kind: 'sqlite', file: ':memory:' };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file.length === 0) throw new SluiceError('CONFIG', `The URL ${url} names no file; use sqlite:./data/app.db.`, { value: url });
    return { kind: 'sqlite', file };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return postgresLocation(url);
  throw new SluiceError(
    'CONFIG',
    `Unsupported database URL ${JSON.stringify(url)}: use sqlite:./path.db, sqlite::memory:, or postgres://user@host/db.`,
    { value: url },
  );
}

/**
 * `?schema=name` in a PostgreSQL URL chooses the schema (the driver would ignore it, and writes
 * would land in public); it is taken out of the URL the driver sees.
 */
function postgresLocation(url: string): DatabaseLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SluiceError('CONFIG', `The URL ${JSON.stringify(url)} is not a valid postgres:// URL.`, { value: url });
  }
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { kind: 'postgres', url };
  if (!PLAIN_IDENTIFIER.test(schema)) {
    throw new SluiceError(
      'CONFIG',
      `The URL's schema ${JSON.stringify(schema)} is not a plain identifier (letters, digits, _; at most 63).`,
      {
        value: schema,
      },
    );
  }
  parsed.searchParams.delete('schema');
  return { kind: 'postgres', url: parsed.toString(), schema };
}

/**
 * The adapter of the database a URL names, before anything opens: what option checks ask of a
 * URL (can it be sync's source, a read replica) without naming dialects. Undefined for a URL no
 * dialect takes (open() then says why).
 */
export function adapterForUrl(url: string): DialectAdapter | undefined {
  let location: DatabaseLocation;
  try {
    location = parseUrl(url);
  } catch {
    return undefined;
  }
  return location.kind === 'sqlite' ? sqliteAdapter(location.file) : postgresAdapter();
}

/** Picks the dialect a URL names; PostgreSQL's driver loads only when a postgres:// URL asks for it. */
export async function createDialect(config: DialectConfig): Promise<Dialect> {
  const location = parseUrl(config.url);
  if (location.kind === 'sqlite') {
    const { SqliteDialect } = await import('./sqlite/sqlite-dialect.js');
    return SqliteDialect.open({
      file: location.file,
      durability: config.durability,
      cacheKiB: config.sqlite.cacheKiB,
      walMaxBytes: config.sqlite.walMaxBytes,
      checkpointIntervalMs: config.sqlite.checkpointIntervalMs,
      create: config.sqlite.create,
      lockTimeoutMs: config.lockTimeoutMs,
    });
  }
  const { PostgresDialect } = await import('./postgres/postgres-dialect.js');
  const named = location.schema;
  if (named !== undefined && config.postgres.schema !== undefined && named !== config.postgres.schema) {
    throw new SluiceError(
      'CONFIG',
      `The URL names PostgreSQL schema "${named}" but postgres.schema is "${config.postgres.schema}"; name it in one place.`,
      { value: named },
    );
  }
  return PostgresDialect.open({
    url: location.url,
    schema: config.postgres.schema ?? named,
    poolSize: config.postgres.poolSize,
    durability: config.durability,
    pooler: config.postgres.pooler,
    replicas: { urls: config.postgres.replicas ?? [], maxLagMs: config.postgres.maxReplicaLagMs ?? 5000 },
  });
}
