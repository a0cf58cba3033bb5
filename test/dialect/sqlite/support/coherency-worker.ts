/**
 * One Node process of the coherency test: writes the keys it owns (versions only grow), reads
 * random keys, and logs every acknowledgement and every read with wall-clock times.
 * Run as: node --import tsx coherency-worker.ts '<json config>'
 */
import { writeFileSync } from 'node:fs';
import { open } from '../../../../src/index.js';
import { sharedKv } from '../../../support/cached-tables.js';

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
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const db = await open({
  url: `sqlite:${config.file}`,
  tables: [sharedKv],
  cache: { redisUrl: config.redisUrl, keyPrefix: config.keyPrefix },
});
const kv = db.table(sharedKv);
const until = Date.now() + 5000;
while (!(db.stats().cache.l2.connected && db.stats().cache.l2.listening) && Date.now() < until) await sleep(10);

const reads: number[] = []; // key, version, started: flat triples
const acks: number[] = []; // key, version, acknowledged
const version = new Map<number, number>();
let failures = 0;
const own: number[] = [];
for (let k = config.owner; k < config.keys; k += config.owners) own.push(k);
const end = Date.now() + config.seconds * 1000;

async function loop(): Promise<void> {
  while (Date.now() < end) {
    try {
      if (Math.random() < 0.25) {
        const key = own[Math.floor(Math.random() * own.length)] as number;
        const next = (version.get(key) ?? 0) + 1;
        version.set(key, next);
        await kv.update(key, { version: next, writer: `node${config.owner}` });
        acks.push(key, next, now());
      } else {
        const key = Math.floor(Math.random() * config.keys);
        const started = now();
        const row = await kv.get(key);
        reads.push(key, row?.version ?? -1, started);
      }
    } catch (error) {
      failures++;
      console.error(error);
    }
    await sleep(Math.random() < 0.5 ? 0 : 1);
  }
}

await Promise.all([loop(), loop(), loop(), loop()]);
const stats = db.stats().cache;
await db.close();
writeFileSync(config.out, JSON.stringify({ reads, acks, failures, stats }));
