import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, defineTable, open } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { tempDir } from '../support/databases.js';
import { postgresAvailable, postgresUrl, withPostgres } from '../support/services.js';
import { TOKEN, WRITE } from './server-support.js';

const shipped = defineTable('shipped_rows', { columns: { id: 'integer', label: 'text' }, primaryKey: 'id', sync: true });

describe('sync routes', async () => {
  if (!(await postgresAvailable())) return;
  const dir = tempDir();
  const schema = `srv_sync_${process.pid}_${Date.now().toString(36)}`;
  let db: Database;
  let app: SluiceServer;
  beforeAll(async () => {
    db = await open({
      url: `sqlite:${join(dir, 'edge.db')}`,
      tables: [shipped],
      // Ship only when asked, so the test sees rows pending first.
      sync: { target: postgresUrl, schema, intervalMs: 3_600_000, batchSize: 100_000 },
      maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 1000 },
    });
    await db.migrate();
    app = createServer(db, { token: TOKEN });
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
    await withPostgres((client) => client.query(`drop schema if exists "${schema}" cascade`));
  });

  it('reports status, flushes and retries through the API, writes behind the token', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ id: i, label: `row ${i}` }));
    expect(
      (await app.inject({ method: 'POST', url: '/api/v1/tables/shipped_rows/records', headers: WRITE, payload: rows })).statusCode,
    ).toBe(201);
    const before = await app.inject({ url: '/api/v1/sync/status' });
    expect(before.statusCode).toBe(200);
    expect(before.json()).toMatchObject({ pending: 20 });
    expect((await app.inject({ method: 'POST', url: '/api/v1/sync/flush' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/sync/retry' })).statusCode).toBe(401);
    const flushed = await app.inject({ method: 'POST', url: '/api/v1/sync/flush', headers: WRITE });
    expect(flushed.statusCode).toBe(200);
    expect(flushed.json()).toMatchObject({ flushed: true, status: { pending: 0 } });
    const count = await withPostgres((client) => client.query(`select count(*)::int as n from "${schema}".shipped_rows`));
    expect(count.rows[0].n).toBe(20);
    const retried = await app.inject({ method: 'POST', url: '/api/v1/sync/retry', headers: WRITE });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ retried: 0 });
    const nodes = await app.inject({ url: '/api/v1/sync/nodes' });
    expect(nodes.statusCode).toBe(200);
    expect(nodes.json().nodes).toEqual([
      expect.objectContaining({ nodeId: db.sync.status().nodeId, changes: 20, seq: 20, shipping: false }),
    ]);
    const tables = (await app.inject({ url: '/api/v1/tables' })).json();
    expect(tables.sync).toBe(true);
  });

  it('leaves the sync routes out for a database without sync', async () => {
    const plain = await open({
      url: `sqlite:${join(dir, 'plain.db')}`,
      tables: [defineTable('plain', { columns: { id: 'integer' }, primaryKey: 'id' })],
    });
    const server = createServer(plain);
    expect((await server.inject({ url: '/api/v1/sync/status' })).statusCode).toBe(404);
    expect((await server.inject({ url: '/api/v1/tables' })).json().sync).toBe(false);
    await server.close();
    await plain.close();
  });
});
