import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { foreignEnv, prepareForeignSqlite } from '../../src/cli/foreign/foreign-sqlite.js';
import { claimJobs } from '../support/claim-table.js';
import { forEachDialect, tempDir } from '../support/databases.js';

const ITEMS = 10_000;

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

/** A foreign claimer in Python: the same claim and settle, written as plain SQL. */
const PYTHON_CLAIMER = `
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
log = open(sys.argv[2], "a")
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.005)
idle = 0
while idle < 3:
    db.execute("begin immediate")
    rows = db.execute("""update claim_jobs set status = 'running', lease_owner = 'python', attempt = attempt + 1,
        lease_expires_at = cast((julianday('now') - 2440587.5) * 86400000 as integer) + 60000
        where id in (select id from claim_jobs where status = 'pending' order by id limit 20) returning id, attempt""").fetchall()
    db.execute("commit")
    if not rows:
        idle += 1
        time.sleep(0.05)
        continue
    idle = 0
    for job_id, attempt in rows:
        db.execute("begin immediate")
        done = db.execute("update claim_jobs set status = 'done', done_by = 'python', lease_owner = null, lease_expires_at = null where id = ? and attempt = ? and status = 'running'", (job_id, attempt)).rowcount
        db.execute("commit")
        if done == 1:
            log.write(f"{job_id}\\n")
            log.flush()
`;

forEachDialect('many claimers over one table', (t) => {
  it(`processes ${ITEMS} items exactly once with 3 Node claimers${t.dialect === 'sqlite' ? ' and a Python one' : ' and a fourth'}`, {
    timeout: 180_000,
  }, async () => {
    const dir = tempDir();
    const db = await t.open({ name: 'claims', tables: [claimJobs] });
    await db.migrate();
    const jobs = db.table(claimJobs);
    for (let start = 0; start < ITEMS; start += 2000) {
      await Promise.all(Array.from({ length: 2000 }, (_, i) => jobs.insert({ id: start + i })));
    }
    const { url, schema } = t.location('claims');
    const logs: string[] = [];
    // Every claimer starts on one signal once all are open: a Python claimer that starts in 50 ms
    // would otherwise take most items while the Node ones are still loading.
    const go = join(dir, 'go');
    const workers: Promise<void>[] = [];
    for (let w = 0; w < (t.dialect === 'sqlite' ? 3 : 4); w++) {
      const log = join(dir, `node-${w}.log`);
      writeFileSync(log, '');
      logs.push(log);
      workers.push(
        run(process.execPath, [
          '--import',
          'tsx',
          join(import.meta.dirname, '..', 'support', 'claim-worker.ts'),
          url,
          schema ?? '',
          `node-${w}`,
          log,
          go,
        ]),
      );
    }
    if (t.dialect === 'sqlite') {
      const foreign = await prepareForeignSqlite(() => {});
      const log = join(dir, 'python.log');
      writeFileSync(log, '');
      logs.push(log);
      workers.push(run(foreign.python, ['-c', PYTHON_CLAIMER, url.slice('sqlite:'.length), log, go], foreignEnv(foreign)));
    }
    const failed = Promise.all(workers).then(() => new Error('a claimer exited before the start signal'));
    while (!logs.every((log) => existsSync(`${log}.ready`))) {
      const early = await Promise.race([failed, new Promise((r) => setTimeout(r, 20, undefined))]);
      if (early instanceof Error) throw early;
    }
    writeFileSync(go, '');
    await Promise.all(workers);

    const acked = logs.flatMap((log) => readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number));
    const times = new Map<number, number>();
    for (const id of acked) times.set(id, (times.get(id) ?? 0) + 1);
    const processedTwice = [...times.values()].filter((n) => n > 1).length;
    const rows = await jobs.find({ orderBy: 'id' });
    const notDone = rows.filter((r) => r.status !== 'done').length;
    const ackedButNotDone = acked.filter((id) => rows[id]?.status !== 'done').length;
    const byWorker = Object.fromEntries(
      logs.map((log) => [log.split('/').pop(), readFileSync(log, 'utf8').split('\n').filter(Boolean).length]),
    );
    console.info(
      `claims [${t.dialect}]: ${acked.length} settles acked, processed twice ${processedTwice}, not done ${notDone}, by worker ${JSON.stringify(byWorker)}`,
    );
    expect(processedTwice).toBe(0);
    expect(notDone).toBe(0);
    expect(ackedButNotDone).toBe(0);
    expect(acked.length).toBe(ITEMS);
    if (t.dialect === 'sqlite') expect((await db.diagnose()).integrity).toEqual(['ok']);
  });
});
