/**
 * A claimer process for the multi-process claim test: claims batches, settles each item with its
 * fencing token, and appends every acknowledged settle to its log before counting it.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { open } from '../../src/index.js';
import { claimJobs } from './claim-table.js';

const [url, schema, owner, log, go] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const db = await open({
  url,
  tables: [claimJobs],
  ...(schema ? { postgres: { schema } } : {}),
  maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0, retentionBatchSize: 1000 },
});
const jobs = db.table(claimJobs);
if (go !== undefined) {
  // Open first, then start with the other claimers: the test compares their shares.
  writeFileSync(`${log}.ready`, '');
  while (!existsSync(go)) await new Promise((r) => setTimeout(r, 5));
}
let idle = 0;
while (idle < 3) {
  const claimed = await jobs.claim({ from: 'pending', to: 'running', limit: 50, leaseMs: 60_000, owner });
  if (claimed.length === 0) {
    idle++;
    await new Promise((r) => setTimeout(r, 50));
    continue;
  }
  idle = 0;
  const settled = await Promise.all(
    claimed.map((job) =>
      jobs.transition(job.id, 'done', { from: 'running', token: job.attempt, set: { doneBy: owner }, returning: 'row' }),
    ),
  );
  const lines = settled.filter((s) => s.applied).map((s) => `${s.row.id}\n`);
  appendFileSync(log, lines.join(''));
}
await db.close();
