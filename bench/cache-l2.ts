import { serialize } from 'node:v8';
import { Redis } from 'ioredis';
import { deletePrefix, fixture, openCached, quantile, round } from './cache-fixture.js';
import { BENCH_REDIS_TIMEOUT_MS } from './cache-zipf.js';

const ROWS = 5000;

export interface L2Result {
  sequential: { sluiceUs: { p50: number; p99: number }; rawUs: { p50: number; p99: number }; ratioP50: number };
  concurrent: { inFlight: number; sluicePerSecond: number; rawPipelinedPerSecond: number; ratio: number };
}

/**
 * An L2 hit (L1 holds one row, so every get goes to Redis) against raw ioredis GETs of values of
 * the same size: one at a time (latency), and many in flight (Sluice's requests pipeline on one
 * connection; the raw side sends explicit pipelines of the same depth).
 */
export async function cacheL2(redisUrl: string, seconds: number): Promise<L2Result> {
  const data = await fixture(ROWS);
  const keyPrefix = `sluice-bench-l2:${process.pid}:`;
  const raw = new Redis(redisUrl);
  try {
    const { db, rows } = await openCached(
      data.file,
      { ttlMs: 3_600_000, maxEntries: 1, l2: true },
      { redisUrl, keyPrefix, redisTimeoutMs: BENCH_REDIS_TIMEOUT_MS },
    );
    const until = Date.now() + 5000;
    while (!db.stats().cache.l2.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (let id = 0; id < ROWS; id++) await rows.get(id);
    await new Promise((r) => setTimeout(r, 200)); // fills are fire-and-forget
    const sample = serialize({ id: 1, name: 'file-1.bin', size: 17, status: 'pending', score: 0.14 });
    const pipeline = raw.pipeline();
    for (let id = 0; id < ROWS; id++) pipeline.set(`${keyPrefix}raw:${id}`, sample);
    await pipeline.exec();

    const sluiceUs: number[] = [];
    const rawUs: number[] = [];
    const hitsBefore = db.stats().cache.l2.hits;
    const ends = performance.now() + (seconds / 2) * 1000;
    for (let n = 0; performance.now() < ends; ) {
      for (let i = 0; i < 500; i++, n++) {
        const t0 = performance.now();
        await rows.get((n * 7919) % ROWS);
        sluiceUs.push((performance.now() - t0) * 1000);
      }
      n -= 500;
      for (let i = 0; i < 500; i++, n++) {
        const t0 = performance.now();
        await raw.getBuffer(`${keyPrefix}raw:${(n * 7919) % ROWS}`);
        rawUs.push((performance.now() - t0) * 1000);
      }
    }
    const hits = db.stats().cache.l2.hits - hitsBefore;
    if (hits < sluiceUs.length * 0.99)
      throw new Error(`only ${hits} of ${sluiceUs.length} gets were L2 hits: ${JSON.stringify(db.stats().cache)}`);

    const depth = 64;
    const concurrentMs = (seconds / 4) * 1000;
    let sluiceDone = 0;
    const sluiceEnds = performance.now() + concurrentMs;
    await Promise.all(
      Array.from({ length: depth }, async (_, w) => {
        for (let n = w; performance.now() < sluiceEnds; n += depth, sluiceDone++) await rows.get((n * 7919) % ROWS);
      }),
    );
    let rawDone = 0;
    const rawEnds = performance.now() + concurrentMs;
    for (let n = 0; performance.now() < rawEnds; ) {
      const p = raw.pipeline();
      for (let i = 0; i < depth; i++, n++) p.getBuffer(`${keyPrefix}raw:${(n * 7919) % ROWS}`);
      await p.exec();
      rawDone += depth;
    }
    await db.close();
    const s = { p50: round(quantile(sluiceUs, 0.5), 1), p99: round(quantile(sluiceUs, 0.99), 1) };
    const r = { p50: round(quantile(rawUs, 0.5), 1), p99: round(quantile(rawUs, 0.99), 1) };
    const sluicePerSecond = Math.round(sluiceDone / (concurrentMs / 1000));
    const rawPipelinedPerSecond = Math.round(rawDone / (concurrentMs / 1000));
    return {
      sequential: { sluiceUs: s, rawUs: r, ratioP50: round(s.p50 / r.p50) },
      concurrent: { inFlight: depth, sluicePerSecond, rawPipelinedPerSecond, ratio: round(sluicePerSecond / rawPipelinedPerSecond) },
    };
  } finally {
    await deletePrefix(redisUrl, keyPrefix);
    raw.disconnect();
    data.remove();
  }
}
