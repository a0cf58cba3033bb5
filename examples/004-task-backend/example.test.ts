import { expect, it } from 'vitest';
import { run } from './main.js';

it('seed 004: tasks over HTTP, a cached result for the same input, a failed task retried, the 7-day cleanup', {
  timeout: 120_000,
}, async () => {
  const report = await run({ seconds: 2 });
  console.info(JSON.stringify(report));
  expect(report.figures).toMatchObject({
    cachedSameTask: true,
    firstResult: { pdf: 'report.pdf' },
    failedThenRetried: 'error (converter refused broken.docx) → completed',
    cleanedUp: 25,
  });
  expect(report.figures.processed).toBeGreaterThanOrEqual(report.figures.loadTasks as number);
  expect(report.met).toBe(true);
});
