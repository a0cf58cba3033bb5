import { ratio, Samples, scratchDir } from './support/measure.js';
import { mediaFiles, RAW_SELECT_SQL, sequentialPath } from './support/media-table.js';
import { type Budget, goalAtMost, type ScenarioResult } from './support/scenario-result.js';
import { createSchema, openRaw, openSluice, prefill, SLUICE_CACHE_KIB } from './support/sqlite-files.js';

const ROWS = 100_000;
/** Gets per round; rounds alternate Sluice and raw so both see the same machine noise. */
const ROUND = 2000;
/** The page cache Sluice gives its reader connection (a quarter of the writer's 64 MiB). */
const READER_CACHE_KIB = SLUICE_CACHE_KIB / 4;

/** The n-th key read: spread over the table by a fixed stride, the same for Sluice and raw. */
function keyOf(n: number): string {
  return sequentialPath((n * 7919) % ROWS);
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('get');
  const file = scratch.file('get.db');
  try {
    await createSchema(file);
    prefill(file, ROWS, sequentialPath);
    const db = await openSluice(file);
    const files = db.table(mediaFiles);
    // Sluice reads on a reader connection with a quarter of the writer's cache; raw gets the same.
    const raw = openRaw(file, { cacheKiB: READER_CACHE_KIB });
    raw.pragma('query_only = ON');
    const select = raw.prepare(RAW_SELECT_SQL);
    const sluiceUs = new Samples();
    const rawUs = new Samples();
    let misses = 0;
    const started = performance.now();
    const warmupEnds = started + budget.warmupSeconds * 1000;
    const ends = warmupEnds + budget.measureSeconds * 1000;
    for (let n = 0; performance.now() < ends; ) {
      const measured = performance.now() >= warmupEnds;
      for (let i = 0; i < ROUND; i++, n++) {
        const key = keyOf(n);
        const t0 = performance.now();
        const row = await files.get(key);
        const t1 = performance.now();
        if (row === undefined) misses++;
        if (measured) sluiceUs.add((t1 - t0) * 1000);
      }
      n -= ROUND;
      for (let i = 0; i < ROUND; i++, n++) {
        const key = keyOf(n);
        const t0 = performance.now();
        const row = select.get(key);
        const t1 = performance.now();
        if (row === undefined) misses++;
        if (measured) rawUs.add((t1 - t0) * 1000);
      }
    }
    raw.close();
    await db.close();
    const s = sluiceUs.percentiles();
    const r = rawUs.percentiles();
    const p50 = ratio(s.p50, r.p50);
    const p99 = ratio(s.p99, r.p99);
    return {
      id: 'sqlite-get',
      title: 'SQLite point get latency (one awaited get at a time)',
      comparisons: [
        {
          measure: 'get(key) p50 vs raw prepared select',
          unit: 'µs',
          sluice: s.p50,
          raw: r.p50,
          ratio: p50,
          goal: goalAtMost(p50, 1.3, '≤ 1.3× raw'),
        },
        {
          measure: 'get(key) p99 vs raw prepared select',
          unit: 'µs',
          sluice: s.p99,
          raw: r.p99,
          ratio: p99,
          goal: goalAtMost(p99, 1.3, '≤ 1.3× raw'),
        },
        {
          measure: 'gets per second, one at a time',
          unit: 'gets/s',
          sluice: 1e6 / mean(sluiceUs.values()),
          raw: 1e6 / mean(rawUs.values()),
          ratio: mean(rawUs.values()) / mean(sluiceUs.values()),
        },
      ],
      notes: [
        `${s.count.toLocaleString('en')} gets each through Sluice and raw better-sqlite3 on the same ${ROWS.toLocaleString('en')}-row file, in alternating rounds of ${ROUND}, the same keys in the same order${misses > 0 ? ` (${misses} misses — a bug)` : ''}.`,
        `Both read through a connection with a ${READER_CACHE_KIB / 1024} MiB page cache (what Sluice gives its reader).`,
        "Sluice's figure includes the await and decoding the row (JSON column parsed, timestamps to Date); the raw select returns SQLite's values as they are.",
      ],
    };
  } finally {
    scratch.remove();
  }
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? 0 : sum / values.length;
}
