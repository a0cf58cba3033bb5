import type { ResolvedOptions } from '../database/open-options.js';
import { parseUrl } from '../database/open-options.js';
import type { Dialect } from './dialect.js';

/** Picks the dialect a URL names; PostgreSQL's driver loads only when a postgres:// URL asks for it. */
export async function createDialect(options: ResolvedOptions): Promise<Dialect> {
  const location = parseUrl(options.url);
  if (location.kind === 'sqlite') {
    const { SqliteDialect } = await import('./sqlite/sqlite-dialect.js');
    return SqliteDialect.open({
      file: location.file,
      durability: options.durability,
      cacheKiB: options.sqlite.cacheKiB,
      walMaxBytes: options.sqlite.walMaxBytes,
      checkpointIntervalMs: options.sqlite.checkpointIntervalMs,
      lockTimeoutMs: options.gate.deadlineMs,
    });
  }
  const { PostgresDialect } = await import('./postgres/postgres-dialect.js');
  return PostgresDialect.open({
    url: location.url,
    schema: options.postgres.schema,
    poolSize: options.postgres.poolSize,
    durability: options.durability,
  });
}
