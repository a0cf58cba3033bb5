import { expect, it } from 'vitest';
import { type Database, syncNodes } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { postgresUrl, withPostgres } from '../../support/services.js';
import { missingOnTarget, range } from './edge-files.js';
import { edgeOpener, syncedKv, targetSchema } from './sync-support.js';

/*
 * Many edges, one centre: three SQLite edge files write and ship into one PostgreSQL schema at the
 * same time, each under its own node id and offsets. The centre's view lists each node with the
 * changes it applied for it; the shipped table holds every row once.
 */

const ROWS = [1500, 2000, 2500] as const;

async function write(db: Database, ids: readonly number[]): Promise<void> {
  const kv = db.table(syncedKv);
  for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => kv.insert({ id, version: 1 })));
}

describeWithPostgres('many edge nodes, one centre', () => {
  const schema = targetSchema('nodes');
  const edges = edgeOpener(schema);

  it('three edges ship concurrently; the centre lists three nodes whose counts equal their rows, none lost or doubled', async () => {
    expect(await syncNodes({ url: postgresUrl, schema })).toEqual([]);
    // Small batches and a short interval: the three shippers' rounds overlap on the centre.
    const dbs = await Promise.all(
      ROWS.map((_, i) => edges.open(`edge${i}`, { tables: [syncedKv], sync: { batchSize: 200, intervalMs: 10 } })),
    );
    await Promise.all(dbs.map((db) => db.migrate()));
    const ids = ROWS.map((n, i) => range(i * 100_000, n));
    let shippingSeen = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        shippingSeen = Math.max(shippingSeen, (await syncNodes({ url: postgresUrl, schema })).filter((n) => n.shipping).length);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await Promise.all(dbs.map((db, i) => write(db, ids[i] as number[])));
    await Promise.all(dbs.map((db) => db.sync.flush()));
    watching = false;
    await watch;

    const nodes = await syncNodes({ url: postgresUrl, schema });
    const statuses = dbs.map((db) => db.sync.status());
    const byNode = new Map(nodes.map((n) => [n.nodeId, n]));
    const counted = statuses.map((s, i) => ({
      node: s.nodeId,
      rows: ROWS[i],
      changes: byNode.get(s.nodeId as string)?.changes,
      seq: byNode.get(s.nodeId as string)?.seq,
      synced: s.synced,
    }));
    const lost = (await Promise.all(ids.map((list) => missingOnTarget(schema, 'sync_kv', list)))).reduce((a, b) => a + b, 0);
    const { total, distinct } = await withPostgres(
      async (c) => (await c.query(`select count(*)::int as total, count(distinct id)::int as distinct from "${schema}".sync_kv`)).rows[0],
    );
    const doubled = total - distinct;
    console.log(`sync nodes: ${JSON.stringify({ counted, lost, doubled, shippingSeen })}`);

    expect(nodes).toHaveLength(3);
    expect(shippingSeen).toBeGreaterThan(0);
    for (const c of counted) {
      expect(c.changes).toBe(c.rows);
      expect(c.seq).toBe(c.synced);
    }
    expect({ lost, doubled, total }).toEqual({ lost: 0, doubled: 0, total: ROWS.reduce((a, b) => a + b, 0) });
    for (const node of nodes) {
      expect(node.shipping).toBe(false);
      expect(node.sinceLastBatchMs).toBeGreaterThanOrEqual(0);
      expect(node.sinceLastBatchMs).toBeLessThan(60_000);
    }
    // Every edge sees the same centre.
    expect((await dbs[0]?.sync.nodes())?.map((n) => [n.nodeId, n.changes])).toEqual(nodes.map((n) => [n.nodeId, n.changes]));
  });

  it('says which target it could not read, as UNAVAILABLE', async () => {
    await expect(syncNodes({ url: 'postgres://nobody@127.0.0.1:1/none', connectTimeoutMs: 500 })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('127.0.0.1:1/none'),
    });
    await expect(syncNodes({ url: 'mysql://x' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
