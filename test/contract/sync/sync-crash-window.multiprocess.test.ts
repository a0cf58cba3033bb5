import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { postgresUrl } from '../../support/services.js';
import { crashKv } from './crash-table.js';
import { copyEdgeFile, missingOnTarget, range } from './edge-files.js';
import { targetSchema } from './sync-support.js';

/** Runs the window writer until it kills itself after its `killAt`-th acknowledged COMMIT. */
function killedAfterCommit(file: string, schema: string, from: number, count: number, killAt: number, log: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = fork(
      join(import.meta.dirname, 'window-writer.ts'),
      [file, postgresUrl, schema, String(from), String(count), String(killAt), log],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    let shippedAll = false;
    child.on('message', (m: { type?: string }) => {
      if (m.type === 'shipped-all') shippedAll = true;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(shippedAll ? `finished (${signal ?? code})` : String(signal ?? code)));
  });
}

function ackedIds(log: string): number[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

describeWithPostgres('a crash between the target COMMIT and the local record', () => {
  const schema = targetSchema('window');
  const dir = tempDir('sluice-sync-window-');

  it('costs no row: the file picks up where the target is, and copies of the crashed file fork and ship their own writes', async () => {
    const file = join(dir, 'edge.db');
    const log = join(dir, 'acks.log');
    writeFileSync(log, '');
    const runs = [
      { from: 0, killAt: 3 },
      { from: 1000, killAt: 2 },
      { from: 2000, killAt: 4 },
    ];
    const endings: string[] = [];
    for (const [i, run] of runs.entries()) {
      endings.push(await killedAfterCommit(file, schema, run.from, 1000, run.killAt, log));
      // The file exactly as the crash left it: the target holds a batch the file has no record of.
      copyEdgeFile(file, join(dir, `crashed-${i}.db`));
    }
    // Every run died in the window, none finished.
    expect(endings).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL']);

    const db = await open({ url: `sqlite:${file}`, tables: [crashKv], sync: { target: postgresUrl, schema } });
    let original: ReturnType<typeof db.sync.status>;
    try {
      await db.migrate();
      await db.sync.flush();
      original = db.sync.status();
    } finally {
      await db.close();
    }
    const acked = ackedIds(log);
    const copies: { missing: number; forkedFrom: string | undefined; reports: number; error?: string }[] = [];
    for (let i = 0; i < runs.length; i++) {
      const reported: unknown[] = [];
      const copy = await open({
        url: `sqlite:${join(dir, `crashed-${i}.db`)}`,
        tables: [crashKv],
        sync: { target: postgresUrl, schema },
        onError: (e) => reported.push(e),
      });
      try {
        await copy.migrate();
        const own = range(100_000 * (i + 1), 300);
        await Promise.all(own.map((id) => copy.table(crashKv).insert({ id, version: 1, payload: 'copy' })));
        const error = await copy.sync.flush().then(
          () => undefined,
          (e: Error) => e.message,
        );
        copies.push({
          missing: await missingOnTarget(schema, 'sync_crash_kv', own),
          forkedFrom: copy.sync.status().forkedFrom,
          reports: reported.length,
          ...(error ? { error } : {}),
        });
      } finally {
        await copy.close();
      }
    }
    const missingAcked = await missingOnTarget(schema, 'sync_crash_kv', acked);
    console.log(
      `crash window: ${JSON.stringify({ acked: acked.length, missingAcked, original: { forkedFrom: original.forkedFrom, pending: original.pending }, copies })}`,
    );
    expect(acked.length).toBeGreaterThan(300);
    expect(missingAcked).toBe(0);
    // The crashed file itself recognises the batch it shipped: no fork, nothing pending.
    expect({ forkedFrom: original.forkedFrom, pending: original.pending }).toEqual({ forkedFrom: undefined, pending: 0 });
    for (const c of copies) expect(c).toEqual({ missing: 0, forkedFrom: original.nodeId, reports: 1 });
  }, 120_000);

  it('a crash in the middle of a resync resumes it on the next start: the rows only the copy holds reach the target', async () => {
    const original = join(dir, 'resync-a.db');
    const copyFile = join(dir, 'resync-b.db');
    const log = join(dir, 'resync.log');
    writeFileSync(log, '');
    const options = { tables: [crashKv], sync: { target: postgresUrl, schema } };
    let db = await open({ url: `sqlite:${original}`, ...options });
    await db.migrate();
    const kv = db.table(crashKv);
    await Promise.all(range(500_000, 3000).map((id) => kv.insert({ id, version: 1, payload: 'both' })));
    await db.sync.flush();
    const nodeId = db.sync.status().nodeId;
    await db.close();
    copyEdgeFile(original, copyFile);
    // The original deletes them all: only the copy's resync can bring them back.
    db = await open({ url: `sqlite:${original}`, ...options });
    await db.migrate();
    await db.table(crashKv).deleteWhere({ id: { $gte: 500_000 } });
    await db.sync.flush();
    await db.close();
    expect(await missingOnTarget(schema, 'sync_crash_kv', range(500_000, 3000))).toBe(3000);

    // The copy forks, and dies after two batches of its resync (100 rows a batch).
    expect(await killedAfterCommit(copyFile, schema, 0, 0, 2, log)).toBe('SIGKILL');
    const file = new BetterSqlite3(copyFile, { readonly: true });
    const node = file.prepare('select node_id, forked_from, resync from _sluice_sync_node').get() as Record<string, string | null>;
    file.close();
    expect(node).toMatchObject({ forked_from: nodeId, resync: expect.stringContaining('sync_crash_kv') });
    expect(await missingOnTarget(schema, 'sync_crash_kv', range(500_000, 3000))).toBeGreaterThan(0);

    const copy = await open({ url: `sqlite:${copyFile}`, ...options, onError: () => {} });
    try {
      await copy.migrate();
      await copy.sync.flush();
      const status = copy.sync.status();
      expect(status).toMatchObject({ nodeId: node.node_id, forkedFrom: nodeId, forks: 0, resyncing: false, pending: 0 });
    } finally {
      await copy.close();
    }
    expect(await missingOnTarget(schema, 'sync_crash_kv', range(500_000, 3000))).toBe(0);
  }, 120_000);
});
