import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runNode } from '../support/child-processes.js';
import { forEachDialect, tempDir } from '../support/databases.js';
import { instanceEvents } from '../support/instance-tables.js';
import { redisPrefix } from '../support/redis-prefix.js';
import { needsSharedRedis } from '../support/redis-suite.js';
import { redisUrl, withPostgres } from '../support/services.js';
import { workJobs } from '../support/work-table.js';

const ITEMS = 20_000;
const INSTANCES = 4;
const SLOW_EVERY = 211;

forEachDialect('many instances on one PostgreSQL', (t) => {
  needsSharedRedis();
  it.runIf(t.dialect === 'postgres')(
    `${INSTANCES} instances migrate at once, settle ${ITEMS} items exactly once with 200 ms leases, reap, run retention and read each other's writes through the shared cache`,
    { timeout: 900_000 },
    async () => {
      const dir = tempDir();
      const { url, schema } = t.location('many');
      // The schema is created here and every instance's migrate() races to create the tables in it.
      await withPostgres((c) => c.query(`create schema "${schema}"`));
      const db = await t.open({
        name: 'many',
        tables: [workJobs, instanceEvents],
        maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0 },
      });
      const prefix = redisPrefix('many-instances');
      const script = join(import.meta.dirname, '..', 'support', 'instance-process.ts');
      const logs = Array.from({ length: INSTANCES }, (_, i) => join(dir, `instance-${i}.log`));
      const processes = logs.map((log, i) => {
        writeFileSync(log, '');
        return runNode([
          '--import',
          'tsx',
          script,
          url,
          schema as string,
          redisUrl,
          prefix,
          dir,
          String(i),
          String(INSTANCES),
          String(SLOW_EVERY),
        ]);
      });
      const exitedEarly = Promise.all(processes).then(() => new Error('an instance exited before the start signal'));
      const waitFor = async (suffix: string) => {
        while (!logs.every((log) => existsSync(`${log}${suffix}`))) {
          const early = await Promise.race([exitedEarly, new Promise((r) => setTimeout(r, 20, undefined))]);
          if (early instanceof Error) throw early;
        }
      };
      await waitFor('.ready');
      writeFileSync(join(dir, 'go'), '');
      await waitFor('.migrated');
      const jobs = db.table(workJobs);
      for (let start = 0; start < ITEMS; start += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => jobs.insert({ id: start + i })));
      }
      writeFileSync(join(dir, 'loaded'), '');
      const started = performance.now();
      await Promise.all(processes);
      const ranMs = performance.now() - started;

      const stats = logs.map(
        (log) =>
          JSON.parse(
            readFileSync(log, 'utf8')
              .split('\n')
              .find((l) => l.startsWith('stats '))
              ?.slice(6) ?? '{}',
          ) as { done?: number; lost?: number; clockReads?: number; staleClockReads?: number; events?: number; l2?: string },
      );
      const runs = logs.reduce(
        (n, log) =>
          n +
          readFileSync(log, 'utf8')
            .split('\n')
            .filter((l) => /^\d/.test(l)).length,
        0,
      );
      const { settledTwice, settledNever, notDone, staleSettles } = await withPostgres(async (c) => {
        const into = await c.query<{ n: string; c: string }>(
          `select count(*) filter (where k > 1) as n, count(*) filter (where k = 1) as c from (select row_key, count(*) as k from "${schema}".work_jobs_history where to_state = 'done' group by row_key) h`,
        );
        const rows = await c.query<{ not_done: string; stale: string }>(
          `select count(*) filter (where status <> 'done') as not_done, count(*) filter (where split_part(done_by, '#', 2)::int <> attempt) as stale from "${schema}".work_jobs`,
        );
        return {
          settledTwice: Number(into.rows[0]?.n),
          settledNever: ITEMS - Number(into.rows[0]?.c) - Number(into.rows[0]?.n),
          notDone: Number(rows.rows[0]?.not_done),
          staleSettles: Number(rows.rows[0]?.stale),
        };
      });
      const sum = (k: 'done' | 'lost' | 'clockReads' | 'staleClockReads' | 'events') => stats.reduce((s, x) => s + (x[k] ?? 0), 0);
      await db.runRetention();
      const eventsLeft = await db.table(instanceEvents).count();
      console.info(
        `many instances: ${Math.round(ranMs)} ms, ${runs} handler runs for ${ITEMS} items, settled ${sum('done')}, refused late settles ${sum('lost')}, not done ${notDone}, settled twice ${settledTwice}, never ${settledNever}, stale settles ${staleSettles}; clock reads ${sum('clockReads')}, stale past the bound ${sum('staleClockReads')}; expired events ${sum('events')}, left ${eventsLeft}; L2 ${stats.map((s) => s.l2).join('/')}`,
      );
      expect({ notDone, settledTwice, settledNever, staleSettles, staleClockReads: sum('staleClockReads'), eventsLeft }).toEqual({
        notDone: 0,
        settledTwice: 0,
        settledNever: 0,
        staleSettles: 0,
        staleClockReads: 0,
        eventsLeft: 0,
      });
      expect(sum('done')).toBe(ITEMS);
      expect(sum('lost')).toBeGreaterThan(0);
      expect(sum('clockReads')).toBeGreaterThan(100);
    },
  );
});
