import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runNode } from '../support/child-processes.js';
import { forEachDialect, tempDir } from '../support/databases.js';
import { workJobs } from '../support/work-table.js';

const ITEMS = 4000;
const PROCESSES = 4;
const SLOW_EVERY = 97;

forEachDialect('workers in several processes', (t) => {
  it(`settle ${ITEMS} rows exactly once across ${PROCESSES} processes while leases lapse under them`, { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const db = await t.open({ name: 'work', tables: [workJobs], maintenance: { reapIntervalMs: 0 } });
    await db.migrate();
    const jobs = db.table(workJobs);
    for (let start = 0; start < ITEMS; start += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => jobs.insert({ id: start + i })));
    }
    const { url, schema } = t.location('work');
    const go = join(dir, 'go');
    const logs = Array.from({ length: PROCESSES }, (_, w) => join(dir, `worker-${w}.log`));
    const processes = logs.map((log, w) => {
      writeFileSync(log, '');
      const script = join(import.meta.dirname, '..', 'support', 'work-process.ts');
      return runNode(['--import', 'tsx', script, url, schema ?? '', `w${w}`, log, go, String(SLOW_EVERY)]);
    });
    const exitedEarly = Promise.all(processes).then(() => new Error('a worker exited before the start signal'));
    while (!logs.every((log) => existsSync(`${log}.ready`))) {
      const early = await Promise.race([exitedEarly, new Promise((r) => setTimeout(r, 20, undefined))]);
      if (early instanceof Error) throw early;
    }
    writeFileSync(go, '');
    const started = performance.now();
    await Promise.all(processes);
    const ranMs = performance.now() - started;

    const runs = logs.flatMap((log) =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => /^\d/.test(l)),
    );
    const stats = logs.map((log) =>
      JSON.parse(
        readFileSync(log, 'utf8')
          .split('\n')
          .find((l) => l.startsWith('stats '))
          ?.slice(6) ?? '{}',
      ),
    );
    const rows = await jobs.find({ orderBy: 'id' });
    const notDone = rows.filter((r) => r.status !== 'done').length;
    // A settle applies exactly once per row: the history holds one move into `done` for each.
    let settledTwice = 0;
    let settledNever = 0;
    for (let id = 0; id < ITEMS; id += 1) {
      const into = (await jobs.history(id)).filter((h) => h.to === 'done').length;
      if (into > 1) settledTwice++;
      if (into === 0) settledNever++;
    }
    // The row says which claim settled it: always the last attempt made on it.
    const staleSettles = rows.filter((r) => Number(r.doneBy?.split('#')[1]) !== r.attempt).length;
    const lost = stats.reduce((sum, s) => sum + (s.lost ?? 0), 0);
    const done = stats.reduce((sum, s) => sum + (s.done ?? 0), 0);
    console.info(
      `workers [${t.dialect}]: ${Math.round(ranMs)} ms, ${runs.length} handler runs for ${ITEMS} rows, settled ${done}, refused late settles ${lost}, not done ${notDone}, settled twice ${settledTwice}, never ${settledNever}, stale settles ${staleSettles}`,
    );
    expect(notDone).toBe(0);
    expect(settledTwice).toBe(0);
    expect(settledNever).toBe(0);
    expect(staleSettles).toBe(0);
    expect(done).toBe(ITEMS);
    // Some leases did lapse: the test exercised what it claims to.
    expect(lost).toBeGreaterThan(0);
    expect(await jobs.count({ leaseOwner: { $null: false } })).toBe(0);
    if (t.dialect === 'sqlite') expect((await db.diagnose()).integrity).toEqual(['ok']);
  });
});
