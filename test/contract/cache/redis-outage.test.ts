import { join } from 'node:path';
import { expect, it } from 'vitest';
import { open } from '../../../src/index.js';
import { sharedKv } from '../../support/cached-tables.js';
import { tempDir } from '../../support/databases.js';
import { redisListening } from '../../support/redis-prefix.js';
import { needsRedisServer } from '../../support/redis-suite.js';
import { throwawayRedis } from '../../support/throwaway-redis.js';

// A redis-server of this file's own (never the shared one): it is shut down and frozen here.
const dir = tempDir('sluice-cache-outage-');
const server = throwawayRedis();
needsRedisServer('redis outage');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function p99(samples: number[]): number {
  const sorted = samples.slice().sort((a, b) => a - b);
  return Math.round((sorted[Math.floor(sorted.length * 0.99)] ?? 0) * 1000) / 1000;
}

it('serves every read while Redis is shut down, then frozen with SIGSTOP, then back', async () => {
  const redis = await server;
  await redis.start();
  const redisTimeoutMs = 50;
  const redisMaxInFlight = 64;
  const db = await open({
    url: `sqlite:${join(dir, 'outage.db')}`,
    tables: [sharedKv],
    cache: { redisUrl: redis.url, keyPrefix: 'outage:', redisTimeoutMs, redisRetryMs: 300, redisMaxInFlight },
  });
  await db.migrate();
  const kv = db.table(sharedKv);
  const keys = 200;
  for (let id = 0; id < keys; id++) await kv.insert({ id, version: 0, writer: 'w' });
  await redisListening(() => db.stats());

  let phase = 'baseline';
  const latencies = new Map<string, number[]>();
  const acked = new Array<number>(keys).fill(0);
  let failed = 0;
  let stale = 0;
  let maxInFlight = 0;
  let running = true;
  const reader = async () => {
    while (running) {
      const id = Math.floor(Math.random() * keys);
      const floor = acked[id]!;
      const started = performance.now();
      try {
        const row = await kv.get(id);
        if ((row?.version ?? -1) < floor) stale++;
      } catch {
        failed++;
      }
      const list = latencies.get(phase) ?? [];
      list.push(performance.now() - started);
      latencies.set(phase, list);
      maxInFlight = Math.max(maxInFlight, db.stats().cache.l2.inFlight);
      await sleep(Math.random() < 0.9 ? 0 : 1);
    }
  };
  const writer = async () => {
    let n = 0;
    while (running) {
      const id = n++ % keys;
      const version = acked[id]! + 1;
      await kv.update(id, { version });
      acked[id] = version;
      await sleep(25);
    }
  };
  const work = Promise.all([reader(), reader(), reader(), reader(), writer()]);

  await sleep(3000);
  const fallbacksBefore = db.stats().cache.l2.fallbacks + db.stats().cache.l2.skipped;
  phase = 'shut down';
  await redis.stop();
  await sleep(3000);
  const duringShutdown = db.stats().cache.l2.fallbacks + db.stats().cache.l2.skipped - fallbacksBefore;
  phase = 'restarted';
  await redis.start();
  await sleep(3000);
  const l2Used = () => db.stats().cache.l2.hits + db.stats().cache.l2.misses;
  const usedBeforeStop = l2Used();
  phase = 'SIGSTOP';
  redis.pause();
  await sleep(4000);
  phase = 'SIGCONT';
  const usedBeforeCont = l2Used();
  redis.resume();
  await sleep(3000);
  const usedAfterCont = l2Used();
  running = false;
  await work;
  const stats = db.stats().cache;
  await db.close();

  const report = Object.fromEntries([...latencies].map(([name, list]) => [name, { reads: list.length, p99Ms: p99(list) }]));
  console.log('redis outage', JSON.stringify({ report, failed, stale, maxInFlight, l2: stats.l2 }));
  expect(failed).toBe(0);
  expect(stale).toBe(0);
  expect(duringShutdown).toBeGreaterThan(0);
  expect(maxInFlight).toBeLessThanOrEqual(redisMaxInFlight);
  expect(usedBeforeStop).toBeGreaterThan(0); // Redis was used again after the restart...
  expect(usedAfterCont).toBeGreaterThan(usedBeforeCont); // ...and after SIGCONT
  for (const name of ['baseline', 'shut down', 'restarted', 'SIGSTOP', 'SIGCONT']) expect(report[name]?.reads).toBeGreaterThan(100);
}, 60_000);
