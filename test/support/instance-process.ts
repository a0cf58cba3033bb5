/**
 * One app instance of the many-instances test: it migrates (all instances at once), runs a worker
 * with short leases and handlers that now and then outlive them, the reaper and retention, and
 * keeps a cached clock row of its own that the other instances read through L1 and Redis. It
 * publishes each acknowledged clock version to a file and counts reads of another instance's clock
 * that are older than a version acknowledged longer than the staleness bound ago.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open } from '../../src/index.js';
import { instanceClocks, instanceEvents } from './instance-tables.js';
import { workJobs } from './work-table.js';

const [url, schema, redisUrl, prefix, dirPath, indexText, instancesText, slowEveryText] = process.argv.slice(2) as string[] as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const me = Number(indexText);
const instances = Number(instancesText);
const STALE_BOUND_MS = 1000;
const log = `${dirPath}/instance-${me}.log`;
const clockFile = (i: number) => `${dirPath}/clock-${i}`;

const db = await open({
  url,
  tables: [workJobs, instanceClocks, instanceEvents],
  postgres: { schema },
  cache: { redisUrl, keyPrefix: prefix, staleBoundMs: STALE_BOUND_MS },
  maintenance: { reapIntervalMs: 50, retentionIntervalMs: 100, retentionBatchSize: 500 },
});
writeFileSync(`${log}.ready`, '');
while (!existsSync(`${dirPath}/go`)) await new Promise((r) => setTimeout(r, 5));
// Every instance migrates at the same moment, as a rolling deploy's first start does.
await db.migrate();
const jobs = db.table(workJobs);
const clocks = db.table(instanceClocks);
const events = db.table(instanceEvents);
await clocks.upsert({ id: me, version: 0 });
writeFileSync(`${log}.migrated`, '');
while (![...Array(instances).keys()].every((i) => existsSync(`${dirPath}/instance-${i}.log.migrated`)))
  await new Promise((r) => setTimeout(r, 5));

const every = Number(slowEveryText);
const worker = jobs.work({
  from: 'pending',
  to: 'running',
  done: 'done',
  failed: 'failed',
  concurrency: 8,
  batch: 50,
  leaseMs: 200,
  owner: `i${me}`,
  pollMs: 100,
  handler: async (row, { attempt }) => {
    appendFileSync(log, `${row.id} ${attempt}\n`);
    if (attempt === 1 && row.id % every === 0) await new Promise((r) => setTimeout(r, 350));
    return { doneBy: `i${me}#${attempt}` };
  },
});

let version = 0;
let reads = 0;
let stale = 0;
let eventNo = 0;
let running = true;
const clockLoop = (async () => {
  while (running) {
    version++;
    await clocks.update(me, { version });
    // Published only after the ack, atomically (rename): a reader holding it knows the write committed by then.
    writeFileSync(`${clockFile(me)}.tmp`, `${version} ${Date.now()}`);
    renameSync(`${clockFile(me)}.tmp`, clockFile(me));
    await events.insert({ id: `${me}-${eventNo++}`, at: new Date(Date.now() - 3_600_000) });
    for (let other = 0; other < instances; other++) {
      if (other === me || !existsSync(clockFile(other))) continue;
      const [acked, at] = readFileSync(clockFile(other), 'utf8').split(' ').map(Number) as [number, number];
      const row = await clocks.get(other);
      reads++;
      if (Date.now() - at > STALE_BOUND_MS && (row?.version ?? 0) < acked) stale++;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
})();

// The items arrive while the workers already run (they wake on the inserts); done means loaded and none left.
for (;;) {
  await new Promise((r) => setTimeout(r, 100));
  if (existsSync(`${dirPath}/loaded`) && (await jobs.count({ status: { $in: ['pending', 'running'] } })) === 0) break;
}
running = false;
await clockLoop;
await worker.stop();
appendFileSync(
  log,
  `stats ${JSON.stringify({ ...worker.stats(), clockReads: reads, staleClockReads: stale, events: eventNo, l2: db.stats().cache.l2.state })}\n`,
);
await db.close();
