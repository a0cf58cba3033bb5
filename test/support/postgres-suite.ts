import { describe } from 'vitest';
import { postgresAvailable, requireServices } from './services.js';
import { throwawayPostgresSupported } from './throwaway-postgres.js';

const sharedPostgres = await postgresAvailable();

/**
 * The one way a test file says it needs the shared PostgreSQL: its suite is skipped, with the loud
 * note `postgresAvailable` prints, where PostgreSQL is unreachable, and fails the run under CI
 * (SLUICE_REQUIRE_SERVICES=1). Tests that run on both dialects use `forEachDialect` instead.
 */
export function describeWithPostgres(title: string, body: () => void): void {
  describe.skipIf(!sharedPostgres)(title, body);
}

/** The same for tests that start a PostgreSQL server of their own (initdb on a port of theirs). */
export function describeWithThrowawayPostgres(title: string, body: () => void): void {
  const supported = throwawayPostgresSupported();
  if (!supported && requireServices) throw new Error(`"${title}" needs PostgreSQL's initdb and pg_ctl (SLUICE_REQUIRE_SERVICES=1)`);
  if (!supported) console.warn(`\n*** PostgreSQL's binaries are missing: "${title}" is SKIPPED ***\n`);
  describe.skipIf(!supported)(title, body);
}
