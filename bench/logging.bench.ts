/**
 * What operations logging costs the write path: inserts with a pino logger at info level (to a
 * file, as a service would run it) against the default (errors only), A B B A. Per write nothing
 * is logged at info; the cost is the per-write observation behind it (the write-latency
 * histogram, the slow-operation check) and the occasional folded line.
 */
import { join } from 'node:path';
import pino from 'pino';
import { open } from '../dist/index.js';
import { abba, scratchDir, Window } from './support/measure.js';
import { mediaFiles, mediaRow, sequentialPath } from './support/media-table.js';
import { type Budget, goalAtLeast, type ScenarioResult } from './support/scenario-result.js';

const IN_FLIGHT = 1024;

async function inserts(file: string, budget: Budget, logged: boolean): Promise<number> {
  const logger = logged ? pino({ level: 'info' }, pino.destination({ dest: `${file}.log`, sync: false })) : undefined;
  const db = await open({ url: `sqlite:${file}`, tables: [mediaFiles], ...(logger ? { logger } : {}) });
  await db.migrate();
  const files = db.table(mediaFiles);
  const window = new Window(budget.warmupSeconds, budget.measureSeconds);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (window.running()) {
        const n = next++;
        await files.insert(mediaRow(sequentialPath(n), n));
        window.add(1);
      }
    }),
  );
  await db.close();
  return window.perSecond;
}

export async function run(budget: Budget): Promise<ScenarioResult> {
  const scratch = scratchDir('logging');
  try {
    let round = 0;
    const result = await abba(
      () => inserts(join(scratch.dir, `quiet-${round++}.db`), budget, false),
      () => inserts(join(scratch.dir, `info-${round++}.db`), budget, true),
    );
    const r = result.b / result.a;
    return {
      id: 'logging',
      title: 'Logging at info level: inserts with a pino logger against the default',
      comparisons: [
        {
          measure: `insert, ${IN_FLIGHT} in flight, pino at info level (raw = the default logger, errors only)`,
          unit: 'rows/s',
          sluice: Math.round(result.b),
          raw: Math.round(result.a),
          ratio: r,
          goal: goalAtLeast(r, 0.97, 'costs ≤ 3 %'),
        },
      ],
      notes: [
        `A B B A: default ${result.runsA.map((x) => Math.round(x).toLocaleString('en')).join(' / ')}, pino ${result.runsB.map((x) => Math.round(x).toLocaleString('en')).join(' / ')} rows/s.`,
      ],
    };
  } finally {
    scratch.remove();
  }
}
