import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';
import { describeWithPostgres } from '../support/postgres-suite.js';
import { postgresUrl, withPostgres } from '../support/services.js';
import { sluice, sluiceText } from './cli-support.js';

/** The commands that measure: stress and bench, in short runs through runCli. */
describe('sluice stress and bench, short runs', () => {
  const dir = tempDir('sluice-cli-runs-');

  it('stress with two writers for a second checks every acknowledged write and leaves no rows behind', async () => {
    const url = `sqlite:${join(dir, 'stress.db')}`;
    const run = await sluice(['stress', '--demo', '--db', url, '--processes', '2', '--seconds', '1'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.body).toMatchObject({ command: 'stress', ok: true, seconds: 1, missingSummaries: [] });
    expect(run.body.processes.map((p: { role: string }) => p.role).sort()).toEqual(['ingester', 'scheduler']);
    expect(run.body.totals.acked).toBeGreaterThan(0);
    expect(run.body.checks).toMatchObject({ lostWrites: 0, lostUpdates: 0, processedTwice: 0, claimedTwice: 0 });
    // The run's rows are deleted after the checks unless --keep-rows.
    const doctor = await sluice(['doctor', '--db', url, '--demo'], dir);
    expect(doctor.body.tables).toEqual([{ name: 'media_files', rows: 0 }]);
    // The text report a person reads: the table of writers and the checks.
    const text = await sluiceText(['stress', '--demo', '--db', url, '--processes', '2', '--seconds', '1'], dir);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Stress on sqlite:.*stress\.db: 2 writers for 1 s/);
    expect(text.stdout).toMatch(/checks against the acknowledgement logs:/);
  }, 60_000);

  it('bench on SQLite measures both sides in one run and removes its scratch file', async () => {
    const url = `sqlite:${join(dir, 'bench.db')}`;
    const run = await sluice(['bench', '--db', url, '--seconds', '1'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.body.insert.sluiceRowsPerSecond).toBeGreaterThan(0);
    expect(run.body.insert.rawRowsPerSecond).toBeGreaterThan(0);
    expect(run.body.get.samples).toBeGreaterThan(0);
    expect(run.body.benchedOn).toMatch(/sluice_bench_\d+\.db$/);
    expect(readdirSync(dir).filter((f) => f.startsWith('sluice_bench_'))).toEqual([]);
    expect(existsSync(join(dir, 'bench.db'))).toBe(false);
  }, 60_000);
});

describeWithPostgres('sluice bench on PostgreSQL', () => {
  const dir = tempDir('sluice-cli-bench-pg-');

  it('benches in a schema of its own and drops it afterwards', async () => {
    const text = await sluiceText(['bench', '--db', postgresUrl, '--seconds', '1'], dir);
    expect(text.code, text.stderr).toBe(0);
    const schema = /PostgreSQL schema (sluice_bench_\d+)/.exec(text.stdout)?.[1];
    expect(schema, text.stdout).toBeDefined();
    expect(text.stdout).toMatch(/insert {2}Sluice [\d,]+ rows\/s/);
    const left = await withPostgres(
      async (c) => (await c.query('select 1 from information_schema.schemata where schema_name = $1', [schema])).rowCount,
    );
    expect(left).toBe(0);
  }, 60_000);
});
