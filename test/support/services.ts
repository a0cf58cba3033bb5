import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';

/** CI sets SLUICE_REQUIRE_SERVICES=1: there, a service that cannot be reached fails the run. */
export const requireServices = process.env.SLUICE_REQUIRE_SERVICES === '1';
export const postgresUrl = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let postgresReachable: Promise<boolean> | undefined;

/** True when PostgreSQL answers; false (with a loud note) when it does not and CI did not ask for it. */
export function postgresAvailable(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch (error) {
      if (requireServices)
        throw new Error(
          `PostgreSQL at ${postgresUrl} is required (SLUICE_REQUIRE_SERVICES=1) but unreachable: ${(error as Error).message}`,
        );
      console.warn(`\n*** PostgreSQL at ${postgresUrl} is unreachable: its tests are SKIPPED (${(error as Error).message}) ***\n`);
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return postgresReachable;
}

let redisReachable: Promise<boolean> | undefined;

/** True when the shared Redis answers PING; false (with a loud note) when it does not and CI did not ask for it. */
export function redisAvailable(): Promise<boolean> {
  redisReachable ??= (async () => {
    const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.ping();
      return true;
    } catch (error) {
      if (requireServices)
        throw new Error(`Redis at ${redisUrl} is required (SLUICE_REQUIRE_SERVICES=1) but unreachable: ${(error as Error).message}`);
      console.warn(`\n*** Redis at ${redisUrl} is unreachable: its tests are SKIPPED (${(error as Error).message}) ***\n`);
      return false;
    } finally {
      redis.disconnect();
    }
  })();
  return redisReachable;
}

let redisServerFound: boolean | undefined;

/** True when redis-server is on PATH for the tests that run one of their own; loud when not, fatal under CI. */
export function redisServerAvailable(title: string): boolean {
  if (redisServerFound === undefined) {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
      redisServerFound = true;
    } catch {
      redisServerFound = false;
    }
  }
  if (!redisServerFound) {
    if (requireServices) throw new Error(`"${title}" needs redis-server on PATH (SLUICE_REQUIRE_SERVICES=1)`);
    console.warn(`\n*** redis-server is not on PATH: "${title}" is SKIPPED ***\n`);
  }
  return redisServerFound;
}

/** Runs SQL as the test superuser, outside Sluice (schema setup and teardown, assertions). */
export async function withPostgres<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
