import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluice } from './cli-support.js';

/** Options every command shares: --schema, and looking without creating. */
describe('sluice CLI options', () => {
  let dir: string;
  const json = (args: string[]) => sluice(args, dir);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-cli-options-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('doctor on a path that does not exist fails and creates neither the file nor its folder', async () => {
    const missing = join(dir, 'no-such-folder', 'typo.db');
    const run = await json(['doctor', '--db', `sqlite:${missing}`]);
    expect(run.code).toBe(1);
    expect(run.body).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(run.body.error.message).toMatch(/no SQLite database at .*typo\.db; nothing was created/);
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(dir, 'no-such-folder'))).toBe(false);
  });

  it('foreign-sqlite builds a SQLite >= 3.51.3 for foreign writers and Python runs with it', async () => {
    const run = await json(['foreign-sqlite']);
    expect(run.code, JSON.stringify(run.body)).toBe(0);
    expect(run.body.version).toBe(run.body.bundledVersion);
    const reported = execFileSync('python3', ['-c', 'import sqlite3; print(sqlite3.sqlite_version)'], {
      env: { ...process.env, LD_LIBRARY_PATH: run.body.libraryDir },
    })
      .toString()
      .trim();
    expect(reported).toBe(run.body.version);
    const [major, minor, patch] = reported.split('.').map(Number);
    expect((major ?? 0) * 1e6 + (minor ?? 0) * 1e3 + (patch ?? 0)).toBeGreaterThanOrEqual(3_051_003);
  }, 120_000);
});
