/**
 * One process of the L2 staleness test: writes the keys it owns (versions only grow), reads
 * random keys through the cache, and logs every acknowledgement and every read with wall-clock
 * times, while the test starts, kills, freezes and restarts the Redis both processes share.
 * Run as: node --import tsx staleness-worker.ts '<json config>' (with an IPC channel).
 */
import { writeFileSync } from 'node:fs';
import { open } from '../../../../src/index.js';
import { sharedKv } from '../../../support/cached-tables.js';
import { VersionedLoad } from '../../../support/versioned-load.js';

interface Config {
  url: string;
  schema?: string;
  redisUrl: string;
  keyPrefix: string;
  staleBoundMs: number;
  owner: number;
  owners: number;
  keys: number;
  out: string;
}

const config = JSON.parse(process.argv[2] as string) as Config;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const db = await open({
  url: config.url,
  tables: [sharedKv],
  ...(config.schema ? { postgres: { schema: config.schema } } : {}),
  cache: { redisUrl: config.redisUrl, keyPrefix: config.keyPrefix, staleBoundMs: config.staleBoundMs },
});
const kv = db.table(sharedKv);
const load = new VersionedLoad(kv, { ...config, writeShare: 0.2, writer: `w${config.owner}` });
let running = true;
const l2Samples: { at: number; state: unknown }[] = [];

process.on('message', (message: { type?: string }) => {
  if (message.type === 'stop') running = false;
});

async function loop(): Promise<void> {
  while (running) {
    await load.step();
    await sleep(Math.random() < 0.5 ? 0 : 1);
  }
}

const sampler = setInterval(() => {
  l2Samples.push({ at: now(), state: db.stats().cache.l2.state });
}, 250);
process.send?.({ type: 'ready', l2: db.stats().cache.l2 });
await Promise.all([loop(), loop(), loop(), loop()]);
clearInterval(sampler);
const stats = db.stats().cache;
await db.close();
writeFileSync(config.out, JSON.stringify({ reads: load.reads, acks: load.acks, failures: load.failures, stats, l2Samples }));
process.exit(0);
