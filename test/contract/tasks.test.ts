import { beforeAll, expect, it } from 'vitest';
import { type Database, defineTable } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

const events = defineTable('events', {
  columns: { id: 'integer', at: 'timestamp', kind: 'text' },
  primaryKey: 'id',
  retention: { column: 'at', maxAgeMs: 60_000 },
});

forEachDialect('the task store and retention', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({
      tables: [events],
      tasks: { resultTtlMs: 60_000 },
      maintenance: { retentionIntervalMs: 0, reapIntervalMs: 0, retentionBatchSize: 100 },
    });
    await db.migrate();
  });

  it('runs a task through its lifecycle and keeps its result', async () => {
    const task = await db.tasks.create('convert', { file: 'a.docx', pages: [1, 2] });
    expect(task.status).toBe('pending');
    const [claimed] = await db.tasks.claim({ owner: 'worker-1', types: ['convert'] });
    expect(claimed?.id).toBe(task.id);
    await db.tasks.complete(task.id, { pdf: 'a.pdf' }, { token: claimed?.attempt });
    expect(await db.tasks.status(task.id)).toBe('completed');
    expect(await db.tasks.result(task.id)).toEqual({ pdf: 'a.pdf' });
  });

  it('returns the existing task for the same input instead of new work, in any key order', async () => {
    const a = await db.tasks.create('ocr', { page: 1, lang: 'zh' });
    const b = await db.tasks.create('ocr', { lang: 'zh', page: 1 });
    expect(b.id).toBe(a.id);
    const [x, y] = await Promise.all([db.tasks.create('ocr', { page: 2 }), db.tasks.create('ocr', { page: 2 })]);
    expect(x.id).toBe(y.id);
    await db.tasks.start(a.id);
    await db.tasks.complete(a.id, 'text');
    const memo = await db.tasks.create('ocr', { page: 1, lang: 'zh' });
    expect(memo).toMatchObject({ id: a.id, status: 'completed', result: 'text' });
    expect((await db.tasks.create('ocr', { page: 1, lang: 'zh' }, { force: true })).id).not.toBe(a.id);
  });

  it('retries a failed task when the same input is created again, and does not reuse an expired result', async () => {
    const failed = await db.tasks.create('render', { n: 1 });
    await db.tasks.start(failed.id);
    await db.tasks.fail(failed.id, new Error('out of memory'));
    expect(await db.tasks.status(failed.id)).toBe('error');
    // The same input again: the failed task goes back to pending, no second task is made.
    const again = await db.tasks.create('render', { n: 1 });
    expect(again).toMatchObject({ id: failed.id, status: 'pending', error: null });
    expect((await db.tasks.create('render', { n: 1 }, { force: true })).id).not.toBe(failed.id);
    const short = await db.tasks.create('render', { n: 2 }, { resultTtlMs: 1 });
    await db.tasks.start(short.id);
    await db.tasks.complete(short.id, 'done');
    await new Promise((r) => setTimeout(r, 10));
    expect((await db.tasks.create('render', { n: 2 })).id).not.toBe(short.id);
  });

  it('retry() sends a failed task back to pending with its error cleared and its attempts kept', async () => {
    const task = await db.tasks.create('upload', { n: 1 });
    const [claimed] = await db.tasks.claim({ owner: 'w', types: ['upload'] });
    await db.tasks.fail(task.id, 'disk full', { token: claimed?.attempt });
    const retried = await db.tasks.retry(task.id);
    expect(retried).toMatchObject({ id: task.id, status: 'pending', error: null, attempt: 1 });
    await expect(db.tasks.retry(task.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(db.tasks.retry('no-such-task')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const [second] = await db.tasks.claim({ owner: 'w', types: ['upload'] });
    expect(second?.attempt).toBe(2);
  });

  it('work() runs tasks through a handler: its result stored, a thrown error retried, then kept', async () => {
    const ok = await db.tasks.create('thumb', { n: 1 });
    const bad = await db.tasks.create('thumb', { n: 2 });
    const worker = db.tasks.work({
      types: ['thumb'],
      concurrency: 2,
      retry: { attempts: 2, backoffMs: 10 },
      handler: async (task) => {
        if ((task.input as { n: number }).n === 2) throw new Error('corrupt image');
        return { url: `/t/${task.id}.png` };
      },
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await db.tasks.status(bad.id)) !== 'error') await new Promise((r) => setTimeout(r, 10));
    await worker.stop();
    expect(await db.tasks.result(ok.id)).toEqual({ url: `/t/${ok.id}.png` });
    const failed = await db.table(db.tables.find((t) => t.name === 'sluice_tasks') as never).get(bad.id as never);
    expect(failed).toMatchObject({ status: 'error', error: 'corrupt image', attempt: 2 });
  });

  it('refuses to settle a task twice or with a stale token', async () => {
    const task = await db.tasks.create('once', {});
    await expect(db.tasks.complete(task.id, 1)).rejects.toMatchObject({ code: 'CONFLICT' });
    const [claimed] = await db.tasks.claim({ owner: 'w', types: ['once'] });
    await expect(db.tasks.complete(task.id, 1, { token: (claimed?.attempt ?? 0) + 1 })).rejects.toMatchObject({ code: 'CONFLICT' });
    await db.tasks.complete(task.id, 1, { token: claimed?.attempt });
    await expect(db.tasks.fail(task.id, 'late')).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('cleans up finished tasks older than the cutoff and keeps the rest', async () => {
    const before = await db.table((await import('../../src/internal.js')).tasksTable).count();
    const old = await db.tasks.create('old', {});
    await db.tasks.start(old.id);
    await db.tasks.complete(old.id, null);
    await db.tasks.create('still-pending', {});
    await new Promise((r) => setTimeout(r, 20));
    const removed = await db.tasks.cleanup({ olderThan: 10 });
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await db.tasks.status(old.id)).toBeUndefined();
    const remaining = await db
      .table((await import('../../src/internal.js')).tasksTable)
      .find({ where: { status: { $in: ['completed', 'error'] } } });
    expect(remaining).toEqual([]);
    expect(await db.table((await import('../../src/internal.js')).tasksTable).count()).toBe(before + 2 - removed);
  });

  it('deletes rows past their retention age in batches, and keeps young rows', async () => {
    const old = Date.now() - 120_000;
    await Promise.all(Array.from({ length: 450 }, (_, i) => db.table(events).insert({ id: i, at: old + i, kind: 'old' })));
    await Promise.all(Array.from({ length: 50 }, (_, i) => db.table(events).insert({ id: 1000 + i, at: new Date(), kind: 'new' })));
    const batchesBefore = db.stats().batches.count;
    const [report] = await db.runRetention();
    expect(report).toMatchObject({ table: 'events', deleted: 450 });
    expect(await db.table(events).count()).toBe(50);
    // 450 rows at 100 per transaction: five deleting batches, none holding the lock for more.
    expect(db.stats().batches.count - batchesBefore).toBe(5);
    expect(await db.metrics.getSingleMetricAsString('sluice_retention_deleted_total')).toContain('table="events"} 450');
  });
});
