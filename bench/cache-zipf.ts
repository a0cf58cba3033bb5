import { deletePrefix, fixture, openCached, round } from './cache-fixture.js';

const ROWS = 100_000;
const L1_ENTRIES = 10_000;
const SKEW = 0.99;
/** Generous: on a 2-core box shared with other jobs Redis is sometimes descheduled for > 50 ms. */
export const BENCH_REDIS_TIMEOUT_MS = 500;

/** Samples ranks 0..n-1 with P(rank k) ∝ 1 / (k + 1)^s, from a seeded generator (the same each run). */
export function zipf(n: number, s: number, seed = 42): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cdf[k] = total;
  }
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const target = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    // Scatter ranks over the key space so hot keys are not neighbours on disk.
    return (lo * 7919) % n;
  };
}

export interface ZipfResult {
  rows: number;
  l1Entries: number;
  skew: number;
  reads: number;
  l1HitRatio: number;
  /** With an L2 tier behind the same L1: hits in either tier / reads. */
  l1l2HitRatio?: number;
  l2HitRatio?: number;
}

/** Hit ratio when the key working set (100k rows, Zipf-distributed) is ten times larger than L1. */
export async function cacheZipf(reads: number, redisUrl?: string): Promise<ZipfResult> {
  const data = await fixture(ROWS);
  try {
    const keyPrefix = `sluice-bench-zipf:${process.pid}:`;
    const measure = async (l2: boolean) => {
      const { db, rows } = await openCached(
        data.file,
        { ttlMs: 3_600_000, maxEntries: L1_ENTRIES, l2 },
        l2 ? { redisUrl, keyPrefix, redisTimeoutMs: BENCH_REDIS_TIMEOUT_MS } : {},
      );
      if (l2) {
        const until = Date.now() + 5000;
        while (!db.stats().cache.l2.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      }
      const next = zipf(ROWS, SKEW);
      for (let i = 0; i < reads / 3; i++) await rows.get(next()); // warm-up: fill both tiers
      const before = db.stats().cache;
      for (let i = 0; i < reads; i++) await rows.get(next());
      const after = db.stats().cache;
      if (after.l2.fallbacks > 0) console.warn(`zipf: ${after.l2.fallbacks} Redis timeouts during the run`);
      await db.close();
      const l1Hits = after.l1.hits - before.l1.hits;
      const l2Hits = after.l2.hits - before.l2.hits;
      const l2Misses = after.l2.misses - before.l2.misses;
      return { l1: l1Hits / reads, both: (l1Hits + l2Hits) / reads, l2: l2Hits + l2Misses === 0 ? 0 : l2Hits / (l2Hits + l2Misses) };
    };
    const l1Only = await measure(false);
    const result: ZipfResult = { rows: ROWS, l1Entries: L1_ENTRIES, skew: SKEW, reads, l1HitRatio: round(l1Only.l1, 4) };
    if (redisUrl) {
      const tiered = await measure(true).finally(() => deletePrefix(redisUrl, keyPrefix));
      result.l1l2HitRatio = round(tiered.both, 4);
      result.l2HitRatio = round(tiered.l2, 4);
    }
    return result;
  } finally {
    data.remove();
  }
}
