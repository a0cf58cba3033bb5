/**
 * Seed 004: a document backend's task store. Clients create conversion tasks over HTTP and poll
 * for results; a result is reused for the same input while fresh; failed tasks are retried;
 * finished tasks are cleaned up after 7 days. Workers run `db.tasks.work()`.
 */
import { join } from 'node:path';
import { open } from 'sluice';
import { createServer } from 'sluice/server';
import { type ExampleOptions, type ExampleReport, exampleDir, ms, sleep } from '../support.js';

const DAY = 24 * 3600_000;

type Task = { id: string; status: string; error: string | null; result: unknown };

export async function run(options: ExampleOptions): Promise<ExampleReport> {
  const dir = exampleDir(options, '004');
  const db = await open({ url: `sqlite:${join(dir, 'documents.db')}`, tasks: { resultTtlMs: 3600_000 } });
  await db.migrate();
  let printerDown = true;
  // The conversion worker: a .docx becomes a .pdf; "broken" inputs fail while the converter is down.
  const worker = db.tasks.work({
    types: ['convert'],
    concurrency: 4,
    retry: { attempts: 2, backoffMs: 20 },
    handler: async (task) => {
      const input = task.input as { doc: string };
      await sleep(20);
      if (input.doc.startsWith('broken') && printerDown) throw new Error(`converter refused ${input.doc}`);
      return { pdf: input.doc.replace(/\.docx$/, '.pdf'), pages: input.doc.length };
    },
  });
  const server = createServer(db);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(server.server.address() as { port: number }).port}/api/v1`;
  const post = async (path: string, body?: unknown) =>
    (await fetch(`${base}${path}`, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).then((r) => r.json())) as Task;
  const get = async (path: string) => (await fetch(`${base}${path}`).then((r) => r.json())) as Task & { result?: unknown };
  const settled = async (id: string) => {
    for (;;) {
      const task = await get(`/tasks/${id}`);
      if (task.status === 'completed' || task.status === 'error') return task;
      await sleep(5);
    }
  };
  try {
    // 1. A new document: created, converted by the worker, its result read.
    const t0 = performance.now();
    const created = await post('/tasks', { type: 'convert', input: { doc: 'report.docx' } });
    await settled(created.id);
    const result = await get(`/tasks/${created.id}/result`);
    const firstResultMs = performance.now() - t0;
    // 2. The same input again: the stored result comes back at once, no new work.
    const t1 = performance.now();
    const again = await post('/tasks', { type: 'convert', input: { doc: 'report.docx' } });
    const cachedResultMs = performance.now() - t1;
    // 3. A failing conversion: retried by the worker, then kept as an error; fixed, then retried over HTTP.
    const broken = await post('/tasks', { type: 'convert', input: { doc: 'broken.docx' } });
    const failed = await settled(broken.id);
    printerDown = false;
    await post(`/tasks/${broken.id}/retry`);
    const recovered = await settled(broken.id);
    // 4. A load of tasks for the rest of the time.
    const until = Date.now() + Math.max(0.5, options.seconds - 1) * 1000;
    let createdCount = 0;
    const ids: string[] = [];
    while (Date.now() < until) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, () => post('/tasks', { type: 'convert', input: { doc: `d${createdCount++}.docx` } })),
      );
      ids.push(...batch.map((t) => t.id));
      await sleep(50);
    }
    for (const id of ids) await settled(id);
    // 5. The 7-day cleanup: finished tasks older than 7 days go, younger ones stay.
    const tasks = db.table(db.tables.find((t) => t.name === 'sluice_tasks') as never);
    const old = new Date(Date.now() - 8 * DAY);
    // (Last week's finished tasks, as an import would leave them: written directly, already completed.)
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        tasks.insert({
          id: `old-${i}`,
          type: 'archive',
          fingerprint: `old-${i}`,
          input: {},
          status: 'completed',
          createdAt: old,
          updatedAt: old,
          completedAt: old,
          resultTtlMs: 0,
        } as never),
      ),
    );
    const cleaned = await db.tasks.cleanup({ olderThan: 7 * DAY });
    const stillThere = await tasks.count();
    const stats = worker.stats();
    const figures = {
      firstResultMs: ms(firstResultMs),
      firstResult: result.result,
      cachedResultMs: ms(cachedResultMs),
      cachedSameTask: again.id === created.id && again.status === 'completed',
      failedThenRetried: `${failed.status} (${failed.error}) → ${recovered.status}`,
      loadTasks: ids.length,
      processed: stats.done,
      cleanedUp: cleaned,
      keptAfterCleanup: stillThere,
    };
    const met = figures.cachedSameTask && recovered.status === 'completed' && cleaned === 25 && figures.processed >= ids.length;
    return {
      example: '004-task-backend',
      seconds: options.seconds,
      figures,
      promised: {
        cachedSameTask: 'the same input is served its stored result',
        cleanedUp: 'finished tasks older than 7 days removed',
        failedThenRetried: 'a failed task can be retried',
      },
      met,
    };
  } finally {
    await worker.stop();
    await server.close();
    await db.close();
  }
}
