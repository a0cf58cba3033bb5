import { expect, it } from 'vitest';
import { run } from './main.js';

it('seed 001: the scanner writes 10,000+ files a second, sync ships every one, errors retry, SIGTERM drains', {
  timeout: 180_000,
}, async () => {
  const report = await run({ seconds: 2 });
  console.info(JSON.stringify({ ...report, figures: { ...report.figures, status: undefined } }));
  expect(report.figures).toMatchObject({ lostRows: 0, errorsBeforeRetry: 2, retried: 2, errorsAfterRetry: 0, drainLostRows: 0 });
  expect(report.figures.shippedRows).toBe(report.figures.localRows);
  expect(report.figures.status).toHaveLength(6);
  // The figure itself depends on the machine; the example reports it beside the seed's 10,000.
  expect(report.figures.committedPerSecond).toBeGreaterThan(0);
});
