import { join } from 'node:path';
import { expect, it } from 'vitest';
import { defineTable, open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';
import { foreignPython } from '../../support/foreign-python.js';

const media = defineTable('media', {
  columns: { path: 'text', status: 'text' },
  primaryKey: 'path',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['downloading'], downloading: ['completed', 'failed'] },
    history: true,
  },
});

const python = (file: string, statements: string[]) => foreignPython(file, statements);

it('refuses an illegal state change by a foreign Python writer and leaves the row unchanged', async () => {
  const file = join(tempDir(), 'foreign.db');
  const db = await open({ url: `sqlite:${file}`, tables: [media] });
  await db.migrate();
  const files = db.table(media);
  await files.insert({ path: '/a' });
  const results = python(file, [
    "update media set status = 'completed' where path = '/a'",
    "insert into media (path, status) values ('/b', 'exploded')",
    "update media set status = 'downloading' where path = '/a'",
  ]);
  expect(results[0]).toEqual({
    ok: false,
    error: expect.stringMatching(/illegal lifecycle transition on media.status; allowed: pending->downloading/),
  });
  expect(results[1]?.ok).toBe(false);
  expect(results[2]).toEqual({ ok: true });
  expect(await files.get('/a')).toEqual({ path: '/a', status: 'downloading' });
  expect(await files.get('/b')).toBeUndefined();
  expect((await files.history('/a')).map((h) => `${h.from}->${h.to}`)).toEqual(['null->pending', 'pending->downloading']);
  await db.close();
});
