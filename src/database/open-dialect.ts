import { SluiceError } from '../core/sluice-error.js';
import { createDialect } from '../dialect/create-dialect.js';
import type { Dialect } from '../dialect/dialect.js';
import { newerDatabaseError } from '../dialect/migrator.js';
import type { ResolvedOptions } from './open-options.js';

/**
 * Connects and refuses a database written by a newer schema than this program knows, before
 * anything (a cache, a worker, a shipper) is built on it; the connection is closed on refusal.
 */
export async function openDialect(options: ResolvedOptions): Promise<Dialect> {
  const dialect = await createDialect({
    url: options.url,
    durability: options.durability,
    lockTimeoutMs: options.gate.deadlineMs,
    sqlite: options.sqlite,
    postgres: options.postgres,
  });
  try {
    const found = await dialect.schemaVersion();
    if (found > options.schemaVersion) throw newerDatabaseError(found, options.schemaVersion);
  } catch (error) {
    await dialect.close().catch(() => {});
    // A damaged file fails here first: the driver's error, classified, never raw.
    throw SluiceError.is(error) ? error : dialect.classify(error);
  }
  return dialect;
}
