import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { packageRoot } from '../../src/cli/package-paths.js';
import { defineTable, open } from '../../src/index.js';
import { targetSchema } from '../contract/sync/sync-support.js';
import { tempDir } from '../support/databases.js';
import { describeWithPostgres } from '../support/postgres-suite.js';
import { postgresUrl, withPostgres } from '../support/services.js';
import { sluice, sluiceText } from './cli-support.js';

describeWithPostgres('sluice sync', () => {
  const dir = tempDir('sluice-sync-cli-');
  const schema = targetSchema('cli');
  const cli = (args: string[]) => sluice(args, dir);

  it('status, flush, dead-letters and retry on a file with pending changes', async () => {
    const module = join(dir, 'schema.mjs');
    const entry = pathToFileURL(join(packageRoot(), 'dist', 'index.js')).href;
    writeFileSync(
      module,
      `import { defineTable } from ${JSON.stringify(entry)};\nexport const tables = [defineTable('cli_kv', { columns: { id: 'integer', v: 'text' }, primaryKey: 'id', sync: true })];\n`,
    );
    const table = defineTable('cli_kv', { columns: { id: 'integer', v: 'text' }, primaryKey: 'id', sync: true });
    const url = `sqlite:${join(dir, 'edge.db')}`;
    const db = await open({
      url,
      tables: [table],
      sync: { target: postgresUrl, schema, intervalMs: 3_600_000, batchSize: 100_000, drainMs: 0 },
    });
    await db.migrate();
    await withPostgres((c) => c.query(`alter table "${schema}".cli_kv add constraint not_13 check (id <> 13)`));
    await Promise.all(Array.from({ length: 500 }, (_, id) => db.table(table).insert({ id, v: `v${id}` })));
    await db.close();
    const common = ['--db', url, '--schema', module, '--target', postgresUrl, '--target-schema', schema];

    const status = await cli(['sync', 'status', ...common]);
    expect(status.code).toBe(0);
    expect(status.body.status).toMatchObject({ pending: 500, synced: 0, target: 'up' });

    const flush = await cli(['sync', 'flush', ...common]);
    expect(flush.body).toMatchObject({ ok: true, shipped: 500, status: { pending: 0, deadLetters: 1 } });

    const letters = await cli(['sync', 'dead-letters', ...common]);
    expect(letters.body.deadLetters).toHaveLength(1);
    expect(letters.body.deadLetters[0]).toMatchObject({ table: 'cli_kv', key: [13] });
    expect(letters.body.deadLetters[0].error).toMatch(/not_13/);

    await withPostgres((c) => c.query(`alter table "${schema}".cli_kv drop constraint not_13`));
    expect((await cli(['sync', 'retry', ...common])).body).toMatchObject({ ok: true, retried: 1 });
    expect((await cli(['sync', 'flush', ...common])).body.status).toMatchObject({ pending: 0, deadLetters: 0 });
    const [{ n }] = await withPostgres(async (c) => (await c.query(`select count(*)::int as n from "${schema}".cli_kv`)).rows);
    expect(n).toBe(500);

    // The centre's view needs no edge file: one node, with the 499 changes of the first flush and the retried one.
    const nodes = await cli(['sync', 'nodes', '--target', postgresUrl, '--target-schema', schema, '--json']);
    expect(nodes.code).toBe(0);
    expect(nodes.body.nodes).toEqual([expect.objectContaining({ seq: expect.any(Number), changes: 500, shipping: false })]);

    const down = await cli([
      'sync',
      'status',
      '--db',
      url,
      '--schema',
      module,
      '--target',
      'postgres://postgres@127.0.0.1:1/x',
      '--timeout-ms',
      '3000',
    ]);
    expect(down.code).toBe(1);
    expect(down.body.status).toMatchObject({ target: 'down', pending: 0 });

    // The text a person reads names the file, the target's state and the counts.
    const text = await sluiceText(['sync', 'status', ...common], dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^Sync of sqlite:.*edge\.db \(node .+\): target up\n {2}total \d+ {2}synced \d+ {2}pending 0 {2}dead letters 0/,
    );
  }, 60_000);

  it('refuses an unknown action and a missing target, and says what to pass', async () => {
    const url = `sqlite:${join(dir, 'none.db')}`;
    const unknown = await cli(['sync', 'push', '--db', url, '--target', postgresUrl]);
    expect(unknown).toMatchObject({ code: 1, body: { command: 'sync push', ok: false, error: 'unknown action push' } });
    const text = await sluiceText(['sync', 'push', '--db', url], dir);
    expect(text.stdout).toMatch(/Unknown sync action "push": use status, flush, retry, dead-letters, nodes\./);
    const noTarget = await cli(['sync', 'status', '--db', url]);
    expect(noTarget).toMatchObject({ code: 1, body: { ok: false, error: 'no target' } });
  });
});
