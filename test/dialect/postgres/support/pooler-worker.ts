/**
 * A claimer process for the pooler test: claims short leases, leaves every 25th job of a first
 * attempt unsettled (a worker that stalled, so the reaper must hand it back), settles the rest
 * with their fencing token, reads each claimed row back, and runs the lease reaper. Acknowledged
 * settles go to its log; errors, by code and message, to `${log}.errors` as JSON.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { open, SluiceError } from '../../../../src/index.js';
import { type PoolerWorkerConfig, poolerJobs } from './pooler-jobs.js';

const config = JSON.parse(process.argv[2] as string) as PoolerWorkerConfig;
const errors: Record<string, number> = {};
const record = (error: unknown) => {
  const key = error instanceof SluiceError ? `${error.code}: ${error.message.slice(0, 160)}` : String(error).slice(0, 160);
  errors[key] = (errors[key] ?? 0) + 1;
};
const flushErrors = () => writeFileSync(`${config.log}.errors`, JSON.stringify(errors));

const db = await open({
  url: config.url,
  tables: [poolerJobs],
  ...(config.pooler ? { postgres: { pooler: 'transaction' as const } } : {}),
  maintenance: { reapIntervalMs: config.reapIntervalMs, retentionIntervalMs: 0, retentionBatchSize: 1000 },
  onError: record,
});
const jobs = db.table(poolerJobs);
writeFileSync(`${config.log}.ready`, '');
while (!existsSync(config.go)) await new Promise((r) => setTimeout(r, 5));

const until = Date.now() + config.maxMs;
let misread = 0;
while (Date.now() < until) {
  try {
    const claimed = await jobs.claim({ from: 'pending', to: 'running', limit: 20, leaseMs: config.leaseMs, owner: config.owner });
    if (claimed.length === 0) {
      if ((await jobs.count({ status: { $in: ['pending', 'running'] } })) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    const settling = claimed.filter((job) => !(job.attempt === 1 && job.id % 25 === 0));
    const [settled, reads] = await Promise.all([
      Promise.all(
        settling.map((job) =>
          jobs.transition(job.id, 'done', { from: 'running', token: job.attempt, set: { doneBy: config.owner } }).catch((error) => {
            record(error);
            return { applied: false };
          }),
        ),
      ),
      Promise.all(claimed.map((job) => jobs.get(job.id))),
    ]);
    misread += reads.filter((row, i) => row?.id !== claimed[i]?.id).length;
    const lines = settling.filter((_, i) => settled[i]?.applied).map((job) => `${job.id}\n`);
    appendFileSync(config.log, lines.join(''));
  } catch (error) {
    record(error);
    await new Promise((r) => setTimeout(r, 20));
  }
}
if (misread > 0) errors['a claimed row read back as another row or as missing'] = misread;
flushErrors();
await db.close();
