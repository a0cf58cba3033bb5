import { expect, it } from 'vitest';
import { SluiceError } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { edgeOpener, syncedKv, targetSchema } from './sync-support.js';

describeWithPostgres('sync.maxPending admits every write path alike', () => {
  const schema = targetSchema('admission');
  const edges = edgeOpener(schema);

  it('enqueue() cannot push the outbox past maxPending: past it the write is dropped and reported, not queued', async () => {
    const reported: unknown[] = [];
    const db = await edges.open('enqueue', {
      tables: [syncedKv],
      sync: { intervalMs: 3_600_000, batchSize: 100_000, maxPending: 100 },
      onError: (e) => reported.push(e),
    });
    await db.migrate();
    const kv = db.table(syncedKv);
    for (let id = 0; id < 500; id++) kv.enqueue({ insert: { id, version: 1 } });
    // A second burst after the first has committed: the count is of the outbox, not of one loop.
    await db.flush();
    for (let id = 500; id < 600; id++) kv.enqueue({ insert: { id, version: 1 } });
    await db.flush();
    const pending = db.sync.status().pending;
    const stored = await kv.count();
    const drops = reported.filter((e) => SluiceError.is(e) && e.code === 'OVERLOADED');
    console.log(`enqueue past maxPending 100: ${JSON.stringify({ enqueued: 600, pending, stored, reports: drops.length })}`);
    expect(pending).toBeLessThanOrEqual(100);
    expect(stored).toBe(pending);
    // Reported, and coalesced: not one callback per dropped write.
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.length).toBeLessThan(10);
    expect(String(drops[0])).toMatch(/maxPending/);
    expect(db.writeRoom(syncedKv)).toBe(0);
    // Once shipped, there is room again and enqueue goes through.
    await db.sync.flush();
    expect(db.writeRoom(syncedKv)).toBe(100);
    kv.enqueue({ insert: { id: 10_000, version: 1 } });
    await db.flush();
    expect(await kv.get(10_000)).toMatchObject({ version: 1 });
  });

  it('insert, upsert, update, delete, deleteWhere and enqueue all wait or drop at the same bound', async () => {
    const db = await edges.open('paths', {
      tables: [syncedKv],
      sync: { intervalMs: 3_600_000, batchSize: 100_000, maxPending: 50 },
      onError: () => {},
    });
    await db.migrate();
    const kv = db.table(syncedKv);
    await Promise.all(Array.from({ length: 50 }, (_, id) => kv.insert({ id, version: 1 })));
    expect(db.sync.status().pending).toBe(50);
    let settled = 0;
    const waiting = [
      kv.insert({ id: 100, version: 1 }),
      kv.upsert({ id: 101, version: 1 }),
      kv.update(1, { version: 2 }),
      kv.delete(2),
      kv.deleteWhere({ id: 3 }),
    ].map((p) => p.then(() => settled++));
    kv.enqueue({ insert: { id: 102, version: 1 } });
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(0);
    expect(await kv.get(102)).toBeUndefined();
    await db.sync.flush();
    await Promise.all(waiting);
    expect(settled).toBe(5);
    await db.sync.flush();
    expect(db.sync.status()).toMatchObject({ pending: 0 });
  });
});
