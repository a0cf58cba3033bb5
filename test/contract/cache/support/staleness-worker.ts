/**
 * One process of the L2 staleness test: writes the keys it owns (versions only grow), reads
 * random keys through the cache, and logs every acknowledgement and every read with wall-clock
 * times, while the test starts, kills, freezes and restarts the Redis both processes share.
 * Run as: node --import tsx staleness-worker.ts '<json config>' (with an IPC channel).
 */
import { writeFileSync } from 'node:fs';
import { open } from '../../../../src/index.js';
import { sharedKv } from '../../../support/cached-tables.js';

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
const reads: number[] = []; // key, version, started: flat triples
const acks: number[] = []; // key, version, acknowledged
const version = new Map<number, number>();
const own: number[] = [];
for (let k = config.owner; k < config.keys; k += config.owners) own.push(k);
let failures = 0;
let running = true;
const l2Samples: { at: number; state: unknown }[] = [];

process.on('message', (message: { type?: string }) => {
  if (message.type === 'stop') running = false;
});

async function loop(): Promise<void> {
  while (running) {
    try {
      if (Math.random() < 0.2) {
        const key = own[Math.floor(Math.random() * own.length)] as number;
        const next = (version.get(key) ?? 0) + 1;
        version.set(key, next);
        await kv.update(key, { version: next, writer: `w${config.owner}` });
        acks.push(key, next, now());
      } else {
        const key = Math.floor(Math.random() * config.keys);
        const started = now();
        const row = await kv.get(key);
        reads.push(key, row?.version ?? -1, started);
      }
    } catch (error) {
      failures++;
      if (failures < 5) console.error(error);
    }
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
writeFileSync(config.out, JSON.stringify({ reads, acks, failures, stats, l2Samples }));
process.exit(0);
