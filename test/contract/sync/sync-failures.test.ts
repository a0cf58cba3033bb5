import { expect, it } from 'vitest';
import { defineTable } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { withPostgres } from '../../support/services.js';
import { edgeOpener, syncedKv, targetRows, targetSchema } from './sync-support.js';

const everyType = defineTable('sync_types', {
  columns: {
    id: 'text',
    n: 'integer?',
    r: 'real?',
    b: 'boolean?',
    j: 'json?',
    t: 'timestamp?',
    bytes: 'blob?',
    s: 'text?',
  },
  primaryKey: 'id',
  sync: true,
});

const blobKeyed = defineTable('sync_blob_keys', {
  columns: { k: 'blob', at: 'timestamp', flag: 'boolean', v: 'integer' },
  primaryKey: ['k', 'at', 'flag'],
  sync: true,
});

describeWithPostgres('sync: poison rows, every type, many nodes', () => {
  const schema = targetSchema('failures');
  const edges = edgeOpener(schema);

  it('dead-letters exactly the one row a target-only CHECK refuses; retry() ships it once the CHECK is gone', async () => {
    const db = await edges.open('poison', { tables: [syncedKv], sync: { intervalMs: 60_000, batchSize: 5000 } });
    await db.migrate();
    await withPostgres((c) => c.query(`alter table "${schema}".sync_kv add constraint no_4242 check (id <> 4242)`));
    const kv = db.table(syncedKv);
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => kv.insert({ id: i, version: 1 })));
    await db.sync.flush();
    const dead = await db.sync.deadLetters();
    expect(dead.map((d) => d.key)).toEqual([[4242]]);
    expect(dead[0]?.error).toMatch(/no_4242/);
    expect(db.sync.status()).toMatchObject({ pending: 0, deadLetters: 1 });
    const [{ n }] = await withPostgres(async (c) => (await c.query(`select count(*)::int as n from "${schema}".sync_kv`)).rows);
    expect(n).toBe(9999);
    await withPostgres((c) => c.query(`alter table "${schema}".sync_kv drop constraint no_4242`));
    expect(await db.sync.retry()).toBe(1);
    await db.sync.flush();
    expect(db.sync.status()).toMatchObject({ pending: 0, deadLetters: 0 });
    const [{ m }] = await withPostgres(async (c) => (await c.query(`select count(*)::int as m from "${schema}".sync_kv`)).rows);
    expect(m).toBe(10_000);
  });

  it('round-trips every column type unchanged (JSON, ms timestamps, blobs, booleans, NULLs, hostile text)', async () => {
    const db = await edges.open('types', { tables: [everyType, blobKeyed] });
    await db.migrate();
    const rows = [
      {
        id: 'full',
        n: Number.MAX_SAFE_INTEGER,
        r: 0.1 + 0.2,
        b: true,
        j: { a: [1, 'two', null, { x: 'y\\z\n' }], e: '' },
        t: new Date('1999-12-31T23:59:59.999Z'),
        bytes: Buffer.from([0, 1, 2, 255, 92, 10]),
        s: 'tab\there\nnew\\line\r"quote\' ünïcødé 🎉',
      },
      { id: 'nulls', n: null, r: null, b: null, j: null, t: null, bytes: null, s: null },
      { id: 'edge\\ \t', n: -Number.MAX_SAFE_INTEGER, r: -1e-300, b: false, j: [], t: new Date(0), bytes: Buffer.alloc(0), s: '' },
      { id: 'json-null', n: 0, r: 1e300, b: false, j: 'just a string', t: new Date(1), bytes: Buffer.from('\\x00'), s: '\\N' },
    ];
    for (const row of rows) await db.table(everyType).insert(row);
    const k = Buffer.from([9, 0, 92]);
    await db.table(blobKeyed).insert({ k, at: new Date(123), flag: true, v: 1 });
    await db.table(blobKeyed).insert({ k, at: new Date(123), flag: false, v: 2 });
    await db.table(blobKeyed).delete({ k, at: new Date(123), flag: true });
    await db.sync.flush();
    // Read back through Sluice's own PostgreSQL dialect: the same codec a PostgreSQL user gets.
    const { open } = await import('../../../src/index.js');
    const { postgresUrl } = await import('../../support/services.js');
    const central = await open({ url: postgresUrl, postgres: { schema }, tables: [everyType, blobKeyed] });
    try {
      for (const row of rows) {
        const got = await central.table(everyType).get(row.id);
        expect(got).toEqual({ ...row, bytes: row.bytes === null ? null : Buffer.from(row.bytes) });
      }
      const keyed = await central.table(blobKeyed).find({});
      expect(keyed).toEqual([{ k, at: new Date(123), flag: false, v: 2 }]);
    } finally {
      await central.close();
    }
  });

  it('three edge files ship into one target table concurrently, each under its own offset', async () => {
    const shared = defineTable('sync_shared', {
      columns: { node: 'text', id: 'integer', version: 'integer' },
      primaryKey: ['node', 'id'],
      sync: true,
    });
    const nodes = await Promise.all(
      ['a', 'b', 'c'].map((name) => edges.open(`edge-${name}`, { tables: [shared], sync: { batchSize: 500 } })),
    );
    await Promise.all(nodes.map((db) => db.migrate()));
    await Promise.all(
      nodes.map(async (db, n) => {
        const t = db.table(shared);
        for (let round = 1; round <= 5; round++) {
          await Promise.all(Array.from({ length: 400 }, (_, id) => t.upsert({ node: `n${n}`, id, version: round })));
        }
      }),
    );
    await Promise.all(nodes.map((db) => db.sync.flush()));
    const rows = await targetRows(schema, 'sync_shared', 'node, id');
    expect(rows.length).toBe(1200);
    expect(rows.filter((r) => Number(r.version) !== 5).length).toBe(0);
    const offsets = await withPostgres(async (c) => (await c.query(`select node_id, seq from "${schema}"._sluice_sync_offsets`)).rows);
    const ids = nodes.map((db) => db.sync.status().nodeId);
    expect(new Set(ids).size).toBe(3);
    for (const db of nodes) {
      const status = db.sync.status();
      const offset = offsets.find((o) => o.node_id === status.nodeId);
      expect(Number(offset?.seq)).toBe(status.synced);
      expect(status.synced).toBe(2000);
      expect(status.pending).toBe(0);
    }
  });

  it('sync: { key } upserts on another unique key; a delete still matches the primary key', async () => {
    const byPath = defineTable('sync_by_path', {
      columns: { id: 'integer', path: 'text', size: 'integer' },
      primaryKey: 'id',
      unique: ['path'],
      sync: { key: 'path' },
    });
    const db = await edges.open('by-path', { tables: [byPath], sync: { intervalMs: 60_000, batchSize: 100_000 } });
    await db.migrate();
    const t = db.table(byPath);
    await t.insert({ id: 1, path: '/a', size: 1 });
    await t.insert({ id: 2, path: '/b', size: 2 });
    await db.sync.flush();
    await t.update(1, { size: 10 });
    await t.delete(2);
    await db.sync.flush();
    const rows = await targetRows(schema, 'sync_by_path', 'id');
    expect(rows.map((r) => [Number(r.id), r.path, Number(r.size)])).toEqual([[1, '/a', 10]]);
    const constraint = await withPostgres(
      async (c) =>
        (
          await c.query(
            "select count(*)::int as n from pg_constraint where conname = 'sync_by_path_unique_0' and connamespace = $1::regnamespace",
            [schema],
          )
        ).rows[0].n,
    );
    expect(constraint).toBe(1);
  });
});
