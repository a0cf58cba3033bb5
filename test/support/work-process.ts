/**
 * A worker process for the multi-process worker test: `table.work()` with short leases, a reaper
 * running in every process, and handlers that now and then sleep past their lease. It logs every
 * handler run (`id attempt`), exits once no row is left pending or running.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { open } from '../../src/index.js';
import { workJobs } from './work-table.js';

const [url, schema, owner, log, go, slowEvery] = process.argv.slice(2) as [string, string, string, string, string, string];
const db = await open({
  url,
  tables: [workJobs],
  ...(schema ? { postgres: { schema } } : {}),
  maintenance: { reapIntervalMs: 50, retentionIntervalMs: 0, retentionBatchSize: 1000 },
});
const jobs = db.table(workJobs);
writeFileSync(`${log}.ready`, '');
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 5));
const every = Number(slowEvery);
const worker = jobs.work({
  from: 'pending',
  to: 'running',
  done: 'done',
  failed: 'failed',
  concurrency: 8,
  batch: 25,
  leaseMs: 200,
  owner,
  pollMs: 100,
  handler: async (row, { attempt }) => {
    appendFileSync(log, `${row.id} ${attempt}\n`);
    // Every so often a handler outlives its lease: the row is reaped and claimed again elsewhere.
    if (attempt === 1 && row.id % every === 0) await new Promise((r) => setTimeout(r, 350));
    return { doneBy: `${owner}#${attempt}` };
  },
});
for (;;) {
  await new Promise((r) => setTimeout(r, 100));
  if ((await jobs.count({ status: { $in: ['pending', 'running'] } })) === 0) break;
}
await worker.stop();
appendFileSync(log, `stats ${JSON.stringify(worker.stats())}\n`);
await db.close();
