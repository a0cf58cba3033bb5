import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresAvailable, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';
import { events, missing, sleep, startLoad } from './support/write-load.js';

/*
 * This file restarts the PostgreSQL server: every other connection to it, from any test file,
 * is cut for a second or two. Run it on its own, not beside other PostgreSQL test files.
 */

const run = promisify(execFile);

/** The local cluster's version (the folder under /etc/postgresql), for pg_ctlcluster. */
function clusterVersion(): string {
  const versions = readdirSync('/etc/postgresql').filter((v) => /^\d+$/.test(v));
  if (versions.length !== 1) throw new Error(`expected one PostgreSQL version in /etc/postgresql, found ${versions.join(', ')}`);
  return versions[0] as string;
}

async function postgresUp(): Promise<boolean> {
  try {
    await withPostgres((c) => c.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

/** Starts the cluster if a failed test left it down, then waits until it answers. */
async function ensurePostgresUp(): Promise<void> {
  if (await postgresUp()) return;
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', clusterVersion(), 'main', 'start']).catch(() => {});
  for (let i = 0; i < 100 && !(await postgresUp()); i++) await sleep(100);
}

describe('PostgreSQL server restart', async () => {
  if (!(await postgresAvailable())) return;
  const schema = postgresSchema('restart');
  afterAll(ensurePostgresUp, 60_000);

  it('loses no acknowledged write across a PostgreSQL restart while writes flow, then writes and reads again', async () => {
    const db = await schema.open({ tables: [events] });
    await db.migrate();
    const load = startLoad(db, 200, 10_000_000);
    await sleep(800);
    const beforeRestart = load.acknowledged.length;
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', clusterVersion(), 'main', 'restart']);
    const atRestart = load.acknowledged.length;
    await sleep(2000);
    await load.stop();
    await db.flush();
    expect(await postgresUp()).toBe(true);
    const lost = await missing(schema.name, load.acknowledged);
    expect({ lost, unexpected: Object.keys(load.failures).filter((code) => code !== 'UNAVAILABLE' && code !== 'BUSY') }).toEqual({
      lost: 0,
      unexpected: [],
    });
    expect(beforeRestart).toBeGreaterThan(0);
    expect(load.acknowledged.length).toBeGreaterThan(atRestart);
    const last = load.acknowledged[load.acknowledged.length - 1] as number;
    expect(await db.table(events).get(last)).toMatchObject({ id: last });
  });
});
