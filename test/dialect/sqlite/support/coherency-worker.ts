/**
 * One Node process of the coherency test: writes the keys it owns (versions only grow), reads
 * random keys, and logs every acknowledgement and every read with wall-clock times.
 * Run as: node --import tsx coherency-worker.ts '<json config>'
 */
import { writeFileSync } from 'node:fs';
import { open } from '../../../../src/index.js';
import { sharedKv } from '../../../support/cached-tables.js';
import { VersionedLoad } from '../../../support/versioned-load.js';

interface Config {
  file: string;
  redisUrl: string;
  keyPrefix: string;
  owner: number;
  owners: number;
  keys: number;
  seconds: number;
  out: string;
}

const config = JSON.parse(process.argv[2] as string) as Config;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const db = await open({
  url: `sqlite:${config.file}`,
  tables: [sharedKv],
  cache: { redisUrl: config.redisUrl, keyPrefix: config.keyPrefix },
});
const kv = db.table(sharedKv);
const until = Date.now() + 5000;
while (!(db.stats().cache.l2.connected && db.stats().cache.l2.listening) && Date.now() < until) await sleep(10);

const load = new VersionedLoad(kv, { ...config, writeShare: 0.25, writer: `node${config.owner}` });
const end = Date.now() + config.seconds * 1000;

async function loop(): Promise<void> {
  while (Date.now() < end) {
    await load.step();
    await sleep(Math.random() < 0.5 ? 0 : 1);
  }
}

await Promise.all([loop(), loop(), loop(), loop()]);
const stats = db.stats().cache;
await db.close();
writeFileSync(config.out, JSON.stringify({ reads: load.reads, acks: load.acks, failures: load.failures, stats }));
