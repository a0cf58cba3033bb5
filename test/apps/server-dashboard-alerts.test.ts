import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type Database, defineRollup, defineTable, open } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { tempDir } from '../support/databases.js';

const violations = defineTable('violations', {
  columns: { id: 'integer', camera: 'text', status: 'text' },
  primaryKey: 'id',
  timestamps: true,
});
const hourly = defineRollup('violations_hourly', {
  from: violations,
  time: 'createdAt',
  every: 'hour',
  groupBy: ['camera'],
  measures: { events: 'count' },
});

describe('the dashboard: alerts on the first screen, rollups beside tables', () => {
  let db: Database | undefined;
  let app: SluiceServer | undefined;
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.close();
  });

  it('shows a firing rule at the top of the page, red, and a rollup card that says what it summarises', { timeout: 60_000 }, async () => {
    db = await open({
      url: `sqlite:${join(tempDir('sluice-dash-alerts-'), 'dash.db')}`,
      tables: [violations, hourly],
      rollups: [hourly],
      alerts: [
        { name: 'open-violations', table: violations, where: { status: 'open' }, windowMs: 600_000, countAbove: 1 },
        { name: 'quiet', table: violations, where: { status: 'closed' }, windowMs: 600_000, countAbove: 100 },
      ],
      alertIntervalMs: 0,
    });
    await db.migrate();
    for (let id = 1; id <= 3; id++) await db.table(violations).insert({ id, camera: 'cam-1', status: 'open' });
    await db.alerts.evaluate();
    app = createServer(db, { eventIntervalMs: 200 });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${base}/`);
    const firing = page.locator('#alerts .alert[data-rule="open-violations"]');
    await expect.poll(() => firing.getAttribute('data-state'), { timeout: 10_000 }).toBe('firing');
    expect(await page.locator('#alerts .alert').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-rule')))).toEqual([
      'open-violations',
      'quiet',
    ]);
    expect(await page.locator('#alerts').getAttribute('class')).toContain('firing');
    expect(await page.locator('#alerts-summary').textContent()).toBe('1 firing of 2');
    // The first screen: above the table cards, within the top of the viewport.
    const box = await page.locator('#alerts').boundingBox();
    expect(box!.y).toBeLessThan(200);
    const rollupCard = page.locator('.card[data-table="violations_hourly"]');
    await expect.poll(() => rollupCard.getAttribute('data-total'), { timeout: 10_000 }).toBe('1');
    expect(await rollupCard.locator('.kind').textContent()).toBe('rollup of violations per hour');
    expect(pageErrors).toEqual([]);
  });
});
