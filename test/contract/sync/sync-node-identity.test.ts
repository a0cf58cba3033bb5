import BetterSqlite3 from 'better-sqlite3';
import { expect, it } from 'vitest';
import type { Database } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { withPostgres } from '../../support/services.js';
import { copyEdgeFile, missingOnTarget, range } from './edge-files.js';
import { edgeOpener, syncedKv, targetSchema } from './sync-support.js';

/** Ships only when asked, so each test decides who ships first. */
const ON_FLUSH = { intervalMs: 3_600_000, batchSize: 5000 };

async function writeRows(db: Database, ids: readonly number[]): Promise<void> {
  const kv = db.table(syncedKv);
  for (let i = 0; i < ids.length; i += 100) await Promise.all(ids.slice(i, i + 100).map((id) => kv.upsert({ id, version: 1 })));
}

/** Flushes and keeps the error instead of throwing, so the figures are reported either way. */
async function flushed(db: Database, errors: string[]): Promise<void> {
  await db.sync.flush().catch((error: Error) => errors.push(error.message));
}

describeWithPostgres('a copied or restored edge file is not the same node', () => {
  for (const order of ['original', 'copy'] as const) {
    const schema = targetSchema(`clone_${order}`);
    const edges = edgeOpener(schema);

    it(`two byte copies of one file, both open, ${order} flushed first: every row of both arrives, and one copy forks`, async () => {
      const first = await edges.open('edge', { tables: [syncedKv], sync: ON_FLUSH });
      await first.migrate();
      await writeRows(first, range(0, 300));
      await first.sync.flush();
      // Shared history the copy is taken with: shipped rows, and rows still waiting.
      await writeRows(first, range(300, 100));
      await first.close();
      copyEdgeFile(edges.file('edge'), edges.file('edge-copy'));

      const reported: unknown[] = [];
      const onError = (e: unknown) => reported.push(e);
      const original = await edges.open('edge', { tables: [syncedKv], sync: ON_FLUSH, onError });
      const copy = await edges.open('edge-copy', { tables: [syncedKv], sync: ON_FLUSH, onError });
      await Promise.all([original.migrate(), copy.migrate()]);
      await writeRows(original, range(10_000, 500));
      await writeRows(copy, range(20_000, 500));
      const errors: string[] = [];
      const [one, two] = order === 'original' ? [original, copy] : [copy, original];
      await flushed(one, errors);
      await flushed(two, errors);
      const missing = {
        shared: await missingOnTarget(schema, 'sync_kv', range(0, 400)),
        original: await missingOnTarget(schema, 'sync_kv', range(10_000, 500)),
        copy: await missingOnTarget(schema, 'sync_kv', range(20_000, 500)),
      };
      const a = original.sync.status();
      const b = copy.sync.status();
      console.log(
        `clone, ${order} first: ${JSON.stringify({ missing, errors, a: a.nodeId, b: b.nodeId, forked: [a.forkedFrom, b.forkedFrom] })}`,
      );
      expect({ missing, errors }).toEqual({ missing: { shared: 0, original: 0, copy: 0 }, errors: [] });
      expect(a.nodeId).not.toBe(b.nodeId);
      // The one that found the other's mark forked; the other keeps the old id.
      const forked = [a, b].filter((s) => s.forkedFrom !== undefined);
      expect(forked).toHaveLength(1);
      expect(forked[0]?.forkedFrom).toBe(forked[0] === a ? b.nodeId : a.nodeId);
      expect(forked[0]?.forks).toBe(1);
      expect(reported.map(String)).toEqual([expect.stringMatching(/^SluiceError: Sync: this file now ships as node .*, forked from /)]);
      for (const s of [a, b]) expect(s).toMatchObject({ pending: 0, progress: 1 });
      const metrics = await (forked[0] === a ? original : copy).metrics.metrics();
      expect(metrics).toMatch(/sluice_sync_forks_total 1/);
    }, 60_000);
  }

  const legacySchema = targetSchema('legacy');
  const legacy = edgeOpener(legacySchema);

  it('offsets and a file an older version left (no lineage) upgrade in place; a copy taken then still forks', async () => {
    let db = await legacy.open('edge', { tables: [syncedKv], sync: ON_FLUSH });
    await db.migrate();
    await writeRows(db, range(0, 100));
    await db.sync.flush();
    const nodeId = db.sync.status().nodeId;
    await db.close();
    // As the version before lineage tokens left them: no lineage column on either side.
    await withPostgres((c) => c.query(`alter table "${legacySchema}"._sluice_sync_offsets drop column lineage`));
    const file = new BetterSqlite3(legacy.file('edge'));
    for (const column of ['lineage', 'intent', 'intent_seq', 'forked_from', 'resync'])
      file.exec(`alter table _sluice_sync_node drop column ${column}`);
    file.close();
    copyEdgeFile(legacy.file('edge'), legacy.file('edge-copy'));

    db = await legacy.open('edge', { tables: [syncedKv], sync: ON_FLUSH });
    await db.migrate();
    await writeRows(db, range(100, 100));
    await db.sync.flush();
    expect(db.sync.status()).toMatchObject({ nodeId, forks: 0, pending: 0 });
    const reported: unknown[] = [];
    const copy = await legacy.open('edge-copy', { tables: [syncedKv], sync: ON_FLUSH, onError: (e) => reported.push(e) });
    await copy.migrate();
    await writeRows(copy, range(1000, 100));
    await copy.sync.flush();
    expect(copy.sync.status()).toMatchObject({ forkedFrom: nodeId, forks: 1, pending: 0 });
    expect(reported).toHaveLength(1);
    expect(await missingOnTarget(legacySchema, 'sync_kv', [...range(0, 200), ...range(1000, 100)])).toBe(0);
  }, 60_000);

  const schema = targetSchema('restore');
  const edges = edgeOpener(schema);

  it('processes sharing one file take turns shipping it and never fork: they see each other in the file', async () => {
    const busy = { intervalMs: 5, batchSize: 50 };
    const sharing = await Promise.all([0, 1, 2].map(() => edges.open('shared', { tables: [syncedKv], sync: busy })));
    await Promise.all(sharing.map((db) => db.migrate()));
    await Promise.all(sharing.map((db, n) => writeRows(db, range(50_000 + n * 1000, 600))));
    const errors: string[] = [];
    await Promise.all(sharing.map((db) => flushed(db, errors)));
    const missing = await missingOnTarget(
      schema,
      'sync_kv',
      [0, 1, 2].flatMap((n) => range(50_000 + n * 1000, 600)),
    );
    const statuses = sharing.map((db) => db.sync.status());
    console.log(`sharing: ${JSON.stringify({ missing, errors, forks: statuses.map((s) => s.forks) })}`);
    expect({ missing, errors }).toEqual({ missing: 0, errors: [] });
    expect(new Set(statuses.map((s) => s.nodeId)).size).toBe(1);
    expect(statuses.map((s) => [s.forks, s.forkedFrom])).toEqual([
      [0, undefined],
      [0, undefined],
      [0, undefined],
    ]);
  }, 60_000);

  it('a file restored from a backup forks, and its new writes arrive', async () => {
    const reported: unknown[] = [];
    const options = { tables: [syncedKv], sync: ON_FLUSH, onError: (e: unknown) => reported.push(e) };
    let db = await edges.open('edge', options);
    await db.migrate();
    await writeRows(db, range(0, 200));
    await db.sync.flush();
    await db.close();
    copyEdgeFile(edges.file('edge'), edges.file('backup'));

    db = await edges.open('edge', options);
    await db.migrate();
    await writeRows(db, range(200, 300));
    await db.sync.flush();
    const before = db.sync.status().nodeId;
    await db.close();
    copyEdgeFile(edges.file('backup'), edges.file('edge'));

    db = await edges.open('edge', options);
    await db.migrate();
    await writeRows(db, range(1000, 500));
    const errors: string[] = [];
    await flushed(db, errors);
    const missing = await missingOnTarget(schema, 'sync_kv', [...range(0, 500), ...range(1000, 500)]);
    const status = db.sync.status();
    console.log(`restore: ${JSON.stringify({ missing, errors, forkedFrom: status.forkedFrom, pending: status.pending })}`);
    expect({ missing, errors }).toEqual({ missing: 0, errors: [] });
    expect(status).toMatchObject({ forkedFrom: before, forks: 1, pending: 0, progress: 1 });
    expect(status.nodeId).not.toBe(before);
    // The fork is reported, naming both ids.
    expect(reported.map(String).filter((m) => m.includes(String(before)) && m.includes(String(status.nodeId)))).toHaveLength(1);

    // Reopened again, the forked file is its own node: nothing forks twice, nothing is resent.
    await db.close();
    db = await edges.open('edge', options);
    await db.migrate();
    await writeRows(db, range(3000, 10));
    await db.sync.flush();
    expect(db.sync.status()).toMatchObject({ nodeId: status.nodeId, forkedFrom: before, forks: 0, pending: 0 });
    expect(await missingOnTarget(schema, 'sync_kv', range(3000, 10))).toBe(0);
  }, 60_000);
});
