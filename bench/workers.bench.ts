/**
 * Workers on PostgreSQL beside the job queues their users come from: pg-boss 10 (batch fetch,
 * batch complete) and graphile-worker 0.17 (LISTEN/NOTIFY). Same machine, same server, each in a
 * schema of its own, A B C C B A where it matters. Three figures each: enqueue with 200 awaiting
 * callers; processing 20,000 items with 4 workers taking batches of 50; insert → handler start at
 * 500 items/s (p50 / p99).
 */
import { makeWorkerUtils, type Runner, run as runGraphile } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { defineTable, open } from '../dist/index.js';
import { POSTGRES_URL } from './postgres-insert.bench.js';
import { settle } from './support/measure.js';
import { type Budget, goalAtLeast, goalAtMost, type ScenarioResult } from './support/scenario-result.js';

const ITEMS = 20_000;
const ENQUEUERS = 200;
const WORKERS = 4;
const BATCH = 50;
const LATENCY_RATE = 500;

const jobs = defineTable('bench_work_jobs', {
  columns: { id: 'integer', status: 'text', payload: 'text', enqueuedAt: 'real' },
  primaryKey: 'id',
  indexes: [['status', 'runAt']],
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done', 'failed'] },
    leases: { expireTo: 'pending' },
  },
});

interface Side {
  enqueue(count: number, callers: number): Promise<number>;
  /** Resolves once `count` handlers ran, with items/s. */
  process(count: number): Promise<number>;
  /** Inserts at `rate` items/s for `seconds`; resolves with insert → handler start latencies (ms). */
  latency(rate: number, seconds: number): Promise<number[]>;
  close(): Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

/** `count` items from `callers` concurrent awaiting callers: items/s. */
async function enqueueWith(count: number, callers: number, one: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return (count / (performance.now() - started)) * 1000;
}

async function paced(rate: number, seconds: number, one: (i: number) => Promise<unknown>): Promise<void> {
  const total = Math.floor(rate * seconds);
  const started = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(one(i));
  }
  await Promise.all(inFlight);
}

async function sluiceSide(schema: string): Promise<Side> {
  const db = await open({
    url: POSTGRES_URL,
    postgres: { schema },
    tables: [jobs],
    maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0 },
  });
  await db.migrate();
  const table = db.table(jobs);
  let id = 0;
  return {
    enqueue: (count, callers) => enqueueWith(count, callers, () => table.insert({ id: id++, payload: 'x', enqueuedAt: 0 })),
    async process(count) {
      let done = 0;
      let finish = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const started = performance.now();
      const workers = Array.from({ length: WORKERS }, (_, w) =>
        table.work({
          from: 'pending',
          to: 'running',
          done: 'done',
          failed: 'failed',
          concurrency: BATCH,
          batch: BATCH,
          owner: `bench-${w}`,
          handler: async () => {
            if (++done === count) finish();
          },
        }),
      );
      await finished;
      const rate = (count / (performance.now() - started)) * 1000;
      await Promise.all(workers.map((w) => w.stop()));
      return rate;
    },
    async latency(rate, seconds) {
      const latencies: number[] = [];
      const workers = Array.from({ length: WORKERS }, (_, w) =>
        table.work({
          from: 'pending',
          to: 'running',
          done: 'done',
          failed: 'failed',
          concurrency: BATCH,
          batch: BATCH,
          owner: `latency-${w}`,
          pollMs: 1000,
          handler: async (row) => {
            latencies.push(now() - row.enqueuedAt);
          },
        }),
      );
      await paced(rate, seconds, () => table.insert({ id: id++, payload: 'x', enqueuedAt: now() }));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await Promise.all(workers.map((w) => w.stop()));
      return latencies;
    },
    close: () => db.close(),
  };
}

async function pgBossSide(schema: string): Promise<Side> {
  const boss = new PgBoss({ connectionString: POSTGRES_URL, schema, max: 10 });
  boss.on('error', () => {});
  await boss.start();
  const queue = 'bench';
  await boss.createQueue(queue);
  const work = async (handler: (job: PgBoss.Job<{ at: number }>) => void) => {
    const ids: string[] = [];
    for (let w = 0; w < WORKERS; w++) {
      ids.push(
        await boss.work<{ at: number }>(queue, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async (batch) => {
          for (const job of batch) handler(job);
        }),
      );
    }
    return ids;
  };
  return {
    enqueue: (count, callers) => enqueueWith(count, callers, () => boss.send(queue, { at: 0 })),
    // The fastest pg-boss path, as its users hand-write it: fetch a batch, complete it in one call.
    // (pg-boss's own work() waits its polling interval, ≥ 0.5 s, between batches: 400 items/s here.)
    async process(count) {
      let done = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (done < count) {
            const batch = await boss.fetch<{ at: number }>(queue, { batchSize: BATCH });
            if (batch.length === 0) continue;
            await boss.complete(
              queue,
              batch.map((job) => job.id),
            );
            done += batch.length;
          }
        }),
      );
      return (count / (performance.now() - started)) * 1000;
    },
    async latency(rate, seconds) {
      const latencies: number[] = [];
      const ids = await work((job) => latencies.push(now() - job.data.at));
      await paced(rate, seconds, () => boss.send(queue, { at: now() }));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (const id of ids) await boss.offWork({ id });
      return latencies;
    },
    close: () => boss.stop({ graceful: false, wait: true }),
  };
}

async function graphileSide(schema: string): Promise<Side> {
  const utils = await makeWorkerUtils({ connectionString: POSTGRES_URL, schema });
  await utils.migrate();
  const start = (handler: (payload: { at: number }) => void): Promise<Runner> =>
    runGraphile({
      connectionString: POSTGRES_URL,
      schema,
      concurrency: WORKERS,
      noHandleSignals: true,
      pollInterval: 1000,
      logger: undefined,
      taskList: { job: async (payload) => handler(payload as { at: number }) },
    });
  return {
    enqueue: (count, callers) => enqueueWith(count, callers, () => utils.addJob('job', { at: 0 })),
    async process(count) {
      let done = 0;
      const started = performance.now();
      let resolve = () => {};
      const finished = new Promise<void>((r) => {
        resolve = r;
      });
      const runner = await start(() => {
        if (++done === count) resolve();
      });
      await finished;
      const rate = (count / (performance.now() - started)) * 1000;
      await runner.stop();
      return rate;
    },
    async latency(rate, seconds) {
      const latencies: number[] = [];
      const runner = await start((payload) => latencies.push(now() - payload.at));
      await paced(rate, seconds, () => utils.addJob('job', { at: now() }));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await runner.stop();
      return latencies;
    },
    close: async () => {
      await utils.release();
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function run(budget: Budget): Promise<ScenarioResult> {
  const tag = process.pid;
  const schemas = { sluice: `bench_work_sluice_${tag}`, boss: `bench_work_boss_${tag}`, graphile: `bench_work_graphile_${tag}` };
  const sides: Record<keyof typeof schemas, Side | undefined> = { sluice: undefined, boss: undefined, graphile: undefined };
  try {
    sides.sluice = await sluiceSide(schemas.sluice);
    sides.boss = await pgBossSide(schemas.boss);
    sides.graphile = await graphileSide(schemas.graphile);
    const order = ['sluice', 'boss', 'graphile', 'graphile', 'boss', 'sluice'] as const;
    const enqueue: Record<string, number[]> = { sluice: [], boss: [], graphile: [] };
    const processing: Record<string, number[]> = { sluice: [], boss: [], graphile: [] };
    for (const name of order) {
      const side = sides[name] as Side;
      // The items enqueued here are the ones the processing round then works off.
      enqueue[name]?.push(await side.enqueue(ITEMS / 2, ENQUEUERS));
      processing[name]?.push(await side.process(ITEMS / 2));
      await settle();
    }
    const latencySeconds = Math.max(2, budget.measureSeconds);
    const latency: Record<string, number[]> = {};
    for (const name of ['sluice', 'boss', 'graphile'] as const)
      latency[name] = await (sides[name] as Side).latency(LATENCY_RATE, latencySeconds);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const procSluice = mean(processing.sluice as number[]);
    const procBoss = mean(processing.boss as number[]);
    const enqSluice = mean(enqueue.sluice as number[]);
    const enqBoss = mean(enqueue.boss as number[]);
    const p = (name: string, q: number) => round(percentile(latency[name] as number[], q));
    return {
      id: 'workers',
      title: `Workers on PostgreSQL: Sluice work() beside pg-boss 10 and graphile-worker 0.17`,
      comparisons: [
        {
          measure: `processing, ${WORKERS} workers, batches of ${BATCH} (raw = pg-boss fetch + batch complete, hand loop)`,
          unit: 'items/s',
          sluice: Math.round(procSluice),
          raw: Math.round(procBoss),
          ratio: procSluice / procBoss,
          goal: goalAtLeast(procSluice / procBoss, 1.5, '≥ 1.5× pg-boss'),
        },
        {
          measure: 'processing, graphile-worker (concurrency 4)',
          unit: 'items/s',
          sluice: Math.round(mean(processing.graphile as number[])),
        },
        {
          measure: `enqueue, ${ENQUEUERS} awaiting callers (raw = pg-boss send)`,
          unit: 'items/s',
          sluice: Math.round(enqSluice),
          raw: Math.round(enqBoss),
          ratio: enqSluice / enqBoss,
          goal: goalAtLeast(enqSluice / enqBoss, 20, '≥ 20× pg-boss'),
        },
        { measure: 'enqueue, graphile-worker addJob', unit: 'items/s', sluice: Math.round(mean(enqueue.graphile as number[])) },
        {
          measure: `insert → handler start at ${LATENCY_RATE}/s, p50 (Sluice)`,
          unit: 'ms',
          sluice: p('sluice', 0.5),
          goal: goalAtMost(p('sluice', 0.5), 5, '≤ 5 ms'),
        },
        {
          measure: `insert → handler start at ${LATENCY_RATE}/s, p99 (Sluice)`,
          unit: 'ms',
          sluice: p('sluice', 0.99),
          goal: goalAtMost(p('sluice', 0.99), 20, '≤ 20 ms'),
        },
        { measure: 'insert → handler start, p50 / p99 (pg-boss, 0.5 s polling)', unit: 'ms', sluice: p('boss', 0.5), raw: p('boss', 0.99) },
        {
          measure: 'insert → handler start, p50 / p99 (graphile-worker, LISTEN/NOTIFY)',
          unit: 'ms',
          sluice: p('graphile', 0.5),
          raw: p('graphile', 0.99),
        },
      ],
      notes: [
        `A B C C B A for enqueue and processing: each round enqueues ${(ITEMS / 2).toLocaleString('en')} items with ${ENQUEUERS} awaiting callers, then works them off; the figure is the mean of two rounds.`,
        'Sluice: 4 `work()` workers in one process (concurrency and batch 50 each), settling each item with its fencing token; settles arriving together share a transaction.',
        'pg-boss processing: 4 hand loops of fetch({ batchSize: 50 }) + complete(ids), its fastest path; its latency: 4 `work()` subscriptions, which poll (0.5 s, its minimum).',
        'graphile-worker: one runner with concurrency 4, woken by LISTEN/NOTIFY.',
      ],
    };
  } finally {
    for (const side of Object.values(sides)) await side?.close().catch(() => {});
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    for (const schema of Object.values(schemas)) await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
}
