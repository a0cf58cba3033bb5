import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, defineTable, open } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { TOKEN, WRITE } from './server-support.js';

/** A cached table: a GET after the first is an L1 hit, whose body the server keeps beside the row. */
const notes = defineTable('notes', {
  columns: { id: 'text', text: 'text', size: 'integer', at: 'timestamp?', meta: 'json?', bytes: 'blob?' },
  primaryKey: 'id',
  cache: { ttlMs: 60_000, maxEntries: 100 },
});
const plain = defineTable('plain', { columns: { id: 'integer', text: 'text', at: 'timestamp?' }, primaryKey: 'id' });

describe('row bodies and ETags', () => {
  let db: Database;
  let app: SluiceServer;
  beforeAll(async () => {
    db = await open({ url: 'sqlite::memory:', tables: [notes, plain] });
    await db.migrate();
    app = createServer(db, { token: TOKEN });
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });
  const get = (url: string) => app.inject({ url });

  it('sends the serialised row with the ETag of those bytes, as JSON; a cache hit sends the same', async () => {
    await db
      .table(notes)
      .insert({ id: 'a', text: 'é "q"', size: 1, at: new Date(0), meta: { deep: [1, null] }, bytes: Buffer.from([1, 2]) });
    const first = await get('/api/v1/tables/notes/records/a');
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.json()).toEqual({
      id: 'a',
      text: 'é "q"',
      size: 1,
      at: '1970-01-01T00:00:00.000Z',
      meta: { deep: [1, null] },
      bytes: 'AQI=',
    });
    expect(first.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const second = await get('/api/v1/tables/notes/records/a');
    expect(second.body).toBe(first.body);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect((await app.inject({ method: 'HEAD', url: '/api/v1/tables/notes/records/a' })).headers.etag).toBe(first.headers.etag);
  });

  it('changes body and ETag with every change of the row, cached or not, and If-Match follows', async () => {
    for (const table of ['notes', 'plain']) {
      if (table === 'plain') await db.table(plain).insert({ id: 1, text: 'x' });
      const key = table === 'notes' ? 'a' : '1';
      const url = `/api/v1/tables/${table}/records/${key}`;
      const before = await get(url);
      const patch = (body: object, tag?: string) =>
        app.inject({ method: 'PATCH', url, headers: { ...WRITE, ...(tag ? { 'if-match': tag } : {}) }, payload: body });
      const patched = await patch({ text: 'changed' });
      expect(patched.statusCode).toBe(200);
      expect(patched.headers.etag).not.toBe(before.headers.etag);
      const after = await get(url);
      expect(after.json().text).toBe('changed');
      expect(after.headers.etag).toBe(patched.headers.etag);
      // The same value written again: the same bytes, the same tag.
      const again = await patch({ text: 'changed' });
      expect(again.headers.etag).toBe(after.headers.etag);
      if (table === 'plain') {
        expect((await patch({ text: 'moved on' }, before.headers.etag as string)).statusCode).toBe(412);
        expect((await patch({ text: 'moved on' }, after.headers.etag as string)).statusCode).toBe(200);
      }
    }
  });
});
