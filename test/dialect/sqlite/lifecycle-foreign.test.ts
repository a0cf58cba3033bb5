import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { defineTable, open } from '../../../src/index.js';
import { tempDir } from '../../support/databases.js';

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

/** Runs a Python sqlite3 client, a writer that never passes through Sluice. */
function python(file: string, statements: string[]): { ok: boolean; error?: string }[] {
  const script = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
results = []
for statement in json.loads(sys.argv[2]):
    try:
        db.execute(statement)
        results.append({"ok": True})
    except sqlite3.Error as error:
        results.append({"ok": False, "error": str(error)})
print(json.dumps(results))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, file, JSON.stringify(statements)], { encoding: 'utf8' }));
}

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
