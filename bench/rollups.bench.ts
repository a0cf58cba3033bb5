/**
 * Rollups cost: the same insert load on a table with no rollup, one, and three (hourly by camera,
 * hourly, daily), A B B A per pair. The rollups are kept by triggers in the writers' transaction, so
 * this is the price of exact statistics that foreign writers keep too.
 */
import { defineRollup, defineTable, open } from '../dist/index.js';
import { POSTGRES_URL } from './postgres-insert.bench.js';
import { abba, scratchDir, Window } from './support/measure.js';
import { type Budget, comparedAtLeast, type ScenarioResult } from './support/scenario-result.js';

const IN_FLIGHT = 1024;

const detections = defineTable('detections', {
  columns: { id: 'integer', camera: 'text', ts: 'timestamp', persons: 'integer', score: 'real' },
  primaryKey: 'id',
});
const byCamera = defineRollup('detections_by_camera', {
  from: detections,
  time: 'ts',
  every: 'hour',
  groupBy: ['camera'],
  measures: { frames: 'count', persons: { sum: 'persons' }, peak: { max: 'persons' } },
});
const hourly = defineRollup('detections_hourly', {
  from: detections,
  time: 'ts',
  every: 'hour',
  measures: { frames: 'count', best: { max: 'score' } },
});
const daily = defineRollup('detections_daily', { from: detections, time: 'ts', every: 'day', measures: { persons: { sum: 'persons' } } });
const ROLLUP_SETS = { 0: [], 1: [byCamera], 3: [byCamera, hourly, daily] } as const;

type Where = { url: string; schema?: string };

async function inserts(where: Where, rollups: 0 | 1 | 3, budget: Budget): Promise<number> {
  const db = await open({
    url: where.url,
    tables: [detections],
    rollups: [...ROLLUP_SETS[rollups]],
    ...(where.schema ? { postgres: { schema: where.schema } } : {}),
    maintenance: { retentionIntervalMs: 0 },
  });
  await db.migrate();
  const table = db.table(detections);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  const start = Date.now();
  let next = 0;
  const worker = async () => {
    while (window.running()) {
      const id = next++;
      // A camera stream: 8 cameras, frames a few seconds apart, so rows land in a handful of live buckets as in seed 003.
      await table.insert({
        id,
        camera: `cam-${id % 8}`,
        ts: new Date(start + Math.floor(id / 8) * 40),
        persons: id % 13,
        score: (id % 100) / 100,
      });
      window.add(1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await db.close();
  return window.perSecond;
}

async function dialectRows(label: string, place: (run: string) => Promise<Where>, budget: Budget) {
  let n = 0;
  const one = await abba(
    async () => inserts(await place(`none${n++}`), 0, budget),
    async () => inserts(await place(`one${n++}`), 1, budget),
  );
  const three = await abba(
    async () => inserts(await place(`none${n++}`), 0, budget),
    async () => inserts(await place(`three${n++}`), 3, budget),
  );
  return [
    comparedAtLeast(`${label}: inserts with 1 rollup vs none`, 'rows/s', one.b, one.a, 0.7, '≥ 0.7× no rollup'),
    comparedAtLeast(`${label}: inserts with 3 rollups vs none`, 'rows/s', three.b, three.a, 0.7, '≥ 0.7× no rollup'),
  ];
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('rollups');
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: POSTGRES_URL });
  const schemas: string[] = [];
  try {
    const sqlite = await dialectRows('SQLite', async (name) => ({ url: `sqlite:${scratch.file(`${name}.db`)}` }), budget);
    let postgres: Awaited<ReturnType<typeof dialectRows>> = [];
    const notes = [
      `${IN_FLIGHT} awaiting callers inserting rows of 8 camera streams; 1 rollup = hourly by camera (count, sum, max); 3 add an hourly max and a daily sum.`,
    ];
    try {
      await client.connect();
      const tag = `bench_rollups_${process.pid}`;
      postgres = await dialectRows(
        'PostgreSQL',
        async (name) => {
          const schema = `${tag}_${name}`;
          schemas.push(schema);
          return { url: POSTGRES_URL, schema };
        },
        budget,
      );
    } catch (error) {
      notes.push(`PostgreSQL rows not run: ${(error as Error).message}`);
    }
    return {
      id: 'rollups',
      title: 'Rollups: insert throughput with one and three rollups kept in the same transaction',
      comparisons: [...sqlite, ...postgres],
      notes,
    };
  } finally {
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
    await client.end().catch(() => {});
    scratch.remove();
  }
}
