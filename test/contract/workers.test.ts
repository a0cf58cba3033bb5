import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { foreignEnv, prepareForeignSqlite } from '../../src/cli/foreign/foreign-sqlite.js';
import { type Database, defineTable, type Table, type Worker } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';
import { withPostgres } from '../support/services.js';

const jobs = defineTable('jobs', {
  columns: { id: 'integer', status: 'text', payload: 'text', result: 'text?', startedAt: 'timestamp?' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    // The README's shape: no declared running -> pending; retries and hand-backs use the lease's return move.
    transitions: { pending: ['running'], running: ['done', 'failed'], failed: ['pending'] },
    history: true,
    leases: { expireTo: 'pending', maxAttempts: 100, exhaustedTo: 'failed' },
  },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

forEachDialect('workers', (t) => {
  let db: Database;
  const started: Worker[] = [];
  let nextId = 0;
  const ids = (n: number) => Array.from({ length: n }, () => ++nextId);

  beforeAll(async () => {
    db = await t.open({ tables: [jobs], maintenance: { reapIntervalMs: 50 } });
    await db.migrate();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((w) => w.stop()));
  });
  const work = (options: Parameters<Table<typeof jobs>['work']>[0]) => {
    const worker = db.table(jobs).work(options);
    started.push(worker);
    return worker;
  };

  it('processes every row exactly once with concurrent handlers, and settles with the patch a handler returns', async () => {
    const table = db.table(jobs);
    const batch = ids(300);
    await Promise.all(batch.map((id) => table.insert({ id, payload: `p${id}` })));
    const seen = new Map<number, number>();
    let running = 0;
    let peak = 0;
    const worker = work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      concurrency: 8,
      batch: 25,
      where: { id: { $gte: batch[0] as number } },
      handler: async (row) => {
        running++;
        peak = Math.max(peak, running);
        seen.set(row.id, (seen.get(row.id) ?? 0) + 1);
        await sleep(1);
        running--;
        return { result: `r${row.payload}` };
      },
    });
    await until(async () => (await table.count({ id: { $in: batch }, status: 'done' })) === 300);
    expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
    expect(seen.size).toBe(300);
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(1);
    expect(await table.get(batch[7] as number)).toMatchObject({ status: 'done', result: `rp${batch[7]}`, leaseOwner: null });
    expect(worker.stats()).toMatchObject({ claimed: 300, done: 300, failed: 0, lost: 0 });
  });

  it('retries a throwing handler after its backoff, then fails it with lastError once attempts run out', async () => {
    const table = db.table(jobs);
    const [flaky, doomed] = ids(2) as [number, number];
    await table.insert({ id: flaky, payload: 'flaky' });
    await table.insert({ id: doomed, payload: 'doomed' });
    const tries = new Map<number, number[]>();
    work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      concurrency: 2,
      where: { id: { $in: [flaky, doomed] } },
      retry: { attempts: 3, backoffMs: 80, factor: 2 },
      handler: async (row, { attempt }) => {
        tries.set(row.id, [...(tries.get(row.id) ?? []), Date.now()]);
        if (row.id === doomed || attempt < 3) throw new Error(`boom ${attempt}`);
      },
    });
    await until(async () => (await table.count({ id: { $in: [flaky, doomed] }, status: { $in: ['done', 'failed'] } })) === 2);
    expect(await table.get(flaky)).toMatchObject({ status: 'done', attempt: 3, lastError: 'boom 2' });
    expect(await table.get(doomed)).toMatchObject({ status: 'failed', attempt: 3, lastError: 'boom 3' });
    // Jittered backoff: the waits are at least half of 80 ms, then of 160 ms.
    const at = tries.get(doomed) as number[];
    expect(at).toHaveLength(3);
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(40 - 5);
    expect((at[2] as number) - (at[1] as number)).toBeGreaterThanOrEqual(80 - 5);
  });

  it('never claims a row before its runAt, and starts it soon after', async () => {
    const table = db.table(jobs);
    const [later] = ids(1) as [number];
    const due = Date.now() + 300;
    await table.insert({ id: later, payload: 'later', runAt: new Date(due) });
    // A plain claim passes over it too.
    expect(await table.claim({ from: 'pending', to: 'running', limit: 10, leaseMs: 1000, owner: 'x', where: { id: later } })).toEqual([]);
    let startedAt = 0;
    work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      pollMs: 5000,
      where: { id: later },
      handler: async () => {
        startedAt = Date.now();
      },
    });
    await until(() => startedAt > 0);
    expect(startedAt).toBeGreaterThanOrEqual(due);
    expect(startedAt - due).toBeLessThan(250);
  });

  it('wakes on a commit in this process at once, not at the next poll', async () => {
    const table = db.table(jobs);
    const starts: number[] = [];
    const [first] = ids(1) as [number];
    work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      pollMs: 10_000,
      where: { id: { $gte: first } },
      handler: async () => {
        starts.push(Date.now());
      },
    });
    await sleep(50); // the worker found nothing and sleeps on its 10 s poll
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const inserted = Date.now();
      await table.insert({ id: first + i, payload: 'wake' });
      await until(() => starts.length === i + 1, 2000);
      delays.push((starts[i] as number) - inserted);
      nextId = first + i;
    }
    expect(Math.max(...delays)).toBeLessThan(200);
  });

  it.runIf(t.dialect === 'sqlite')("wakes on a foreign process's insert (Python) through data_version, not at the next poll", async () => {
    const table = db.table(jobs);
    const [id] = ids(1) as [number];
    let startedAt = 0;
    work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      pollMs: 10_000,
      where: { id },
      handler: async () => {
        startedAt = Date.now();
      },
    });
    await sleep(50);
    const foreign = await prepareForeignSqlite(() => {});
    const insert = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
db.execute("insert into jobs (id, payload) values (?, 'from python')", (int(sys.argv[2]),))
print(int(time.time() * 1000))
`;
    const { stdout } = await promisify(execFile)(foreign.python, ['-c', insert, t.location().url.slice('sqlite:'.length), String(id)], {
      env: foreignEnv(foreign),
    });
    const committedAt = Number(stdout.trim());
    await until(() => startedAt > 0, 5000);
    expect(startedAt - committedAt).toBeLessThan(200);
    await until(async () => (await table.get(id))?.status === 'done');
  });

  it.runIf(t.dialect === 'postgres')(
    "wakes on another client's insert (psql) through LISTEN/NOTIFY, falls back to polling when the listener is cut, and recovers",
    async () => {
      const starts = new Map<number, number>();
      const [first] = ids(1) as [number];
      work({
        from: 'pending',
        to: 'running',
        done: 'done',
        failed: 'failed',
        pollMs: 1500,
        where: { id: { $gte: first, $lt: first + 10 } },
        handler: async (row) => {
          starts.set(row.id, Date.now());
        },
      });
      const { schema } = t.location();
      const foreignInsert = async (id: number) => {
        const at = Date.now();
        await withPostgres(async (client) => {
          await client.query(`set search_path to "${schema}"`);
          await client.query("insert into jobs (id, payload) values ($1, 'from psql')", [id]);
        });
        await until(() => starts.has(id), 5000);
        return (starts.get(id) as number) - at;
      };
      await sleep(300); // the listener connects on the worker's first subscription
      expect(await foreignInsert(first)).toBeLessThan(200);
      // Cut the listener: the worker still gets the next row, at its poll.
      await withPostgres((client) =>
        client.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [
          `sluice listener ${schema}`.slice(0, 63),
        ]),
      );
      expect(await foreignInsert(first + 1)).toBeLessThan(2500);
      // The listener reconnects by itself (backoff from 100 ms): wake-ups are immediate again.
      await sleep(1000);
      expect(await foreignInsert(first + 2)).toBeLessThan(200);
      nextId = first + 9;
    },
  );

  it('stop() finishes running handlers, hands back what was not started, and leaves nothing claimed', async () => {
    const table = db.table(jobs);
    const batch = ids(40);
    await Promise.all(batch.map((id) => table.insert({ id, payload: 'slow' })));
    let began = 0;
    const worker = work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      concurrency: 4,
      batch: 20,
      where: { id: { $in: batch } },
      handler: async () => {
        began++;
        await sleep(100);
      },
    });
    await until(() => began >= 4);
    await worker.stop();
    const stats = worker.stats();
    expect(stats.running).toBe(0);
    expect(stats.waiting).toBe(0);
    expect(await table.count({ id: { $in: batch }, status: 'running' })).toBe(0);
    expect(await table.count({ id: { $in: batch }, leaseOwner: { $null: false } })).toBe(0);
    expect(await table.count({ id: { $in: batch }, status: 'done' })).toBe(stats.done);
    expect(stats.done + stats.released + (await table.count({ id: { $in: batch }, status: 'pending', attempt: 0 }))).toBe(40);
    expect(worker.running).toBe(false);
  });

  it('aborts a handler whose lease was lost, and its late settle is refused, never applied twice', async () => {
    const table = db.table(jobs);
    const [id] = ids(1) as [number];
    await table.insert({ id, payload: 'lapse' });
    const runs: number[] = [];
    let aborted = 0;
    const worker = work({
      from: 'pending',
      to: 'running',
      done: 'done',
      failed: 'failed',
      leaseMs: 120,
      autoRenew: false,
      where: { id },
      handler: async (row, { signal, attempt, renew }) => {
        runs.push(attempt);
        if (attempt === 1) {
          await sleep(400); // past the lease: the reaper hands the row back and the next claim takes it
          if (!(await renew())) aborted += signal.aborted ? 1 : 0;
        }
        return { result: `attempt ${attempt} of ${row.id}` };
      },
      concurrency: 2,
    });
    await until(async () => (await table.get(id))?.status === 'done');
    await until(() => worker.stats().running === 0);
    expect(runs).toEqual([1, 2]);
    expect(aborted).toBe(1);
    expect(await table.get(id)).toMatchObject({ status: 'done', attempt: 2, result: `attempt 2 of ${id}` });
    expect(worker.stats()).toMatchObject({ done: 1, lost: 1 });
    expect((await table.history(id)).filter((h) => h.to === 'done')).toHaveLength(1);
  });

  it('refuses a worker whose moves the lifecycle does not allow, before it claims anything', () => {
    const table = db.table(jobs);
    expect(() => table.work({ from: 'pending', to: 'done', done: 'done', failed: 'failed', handler: async () => {} })).toThrow(
      /does not allow pending -> done/,
    );
    expect(() =>
      table.work({ from: 'pending', to: 'running', done: 'done', failed: 'failed', concurrency: 0, handler: async () => {} }),
    ).toThrow(/concurrency must be a whole number from 1/);
    expect(() => table.work({ from: 'pending', to: 'running', done: 'done', failed: 'failed', handlr: async () => {} } as never)).toThrow(
      /unknown option "handlr"/,
    );
  });
});
