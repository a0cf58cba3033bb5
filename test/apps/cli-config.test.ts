import { expect, it } from 'vitest';
import { tempDir } from '../support/databases.js';
import { sluice } from './cli-support.js';

it('sluice config prints each effective value and where it came from, with secrets masked', async () => {
  const cwd = tempDir();
  const run = await sluice(['config', '--db', 'sqlite:./edge.db'], cwd, {
    SLUICE_PROFILE: 'high',
    SLUICE_SYNC_TARGET: 'postgres://edge:s3cret@central/db',
    SLUICE_SYNC_BATCH_SIZE: '3000',
  });
  expect(run.code).toBe(0);
  const byPath = Object.fromEntries((run.body.values as { path: string }[]).map((v) => [v.path, v]));
  expect(run.body.profile).toBe('high');
  expect(byPath.url).toMatchObject({ value: 'sqlite:./edge.db', source: 'option' });
  expect(byPath['sync.batchSize']).toMatchObject({ value: '3000', source: 'environment', variable: 'SLUICE_SYNC_BATCH_SIZE' });
  expect(byPath['sync.maxPending']).toMatchObject({ value: '200000', source: 'profile' });
  expect(byPath['sync.intervalMs']).toMatchObject({ value: '60000', source: 'profile' });
  expect(byPath.durability).toMatchObject({ value: 'process-crash', source: 'default' });
  expect(JSON.stringify(run.body)).not.toContain('s3cret');
  const typo = await sluice(['config'], cwd, { SLUICE_SYNC_TARGT: 'postgres://x/y' });
  expect(typo.code).not.toBe(0);
  expect(typo.body.error).toMatchObject({ code: 'CONFIG' });
  expect(typo.body.error.message).toMatch(/did you mean SLUICE_SYNC_TARGET/);
});
