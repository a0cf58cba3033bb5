import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, open } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { tempDir } from '../support/databases.js';
import { items, readings } from '../support/tables.js';
import { jobs, TOKEN, WRITE } from './server-support.js';

const ARTIFACTS = process.env.SLUICE_ARTIFACTS ?? join(tmpdir(), 'sluice-artifacts');

describe('the dashboard and what users plug in', () => {
  const dir = tempDir();
  let db: Database;
  let app: SluiceServer;
  let base: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    db = await open({ url: `sqlite:${join(dir, 'dash.db')}`, tables: [jobs, items, readings], tasks: true });
    await db.migrate();
    const files = db.table(jobs);
    await Promise.all(Array.from({ length: 45 }, (_, i) => files.insert({ id: `job-${String(i).padStart(3, '0')}` })));
    await files.claim({ from: 'pending', to: 'running', limit: 5, leaseMs: 3_600_000, owner: 'test' });
    app = createServer(db, { token: TOKEN });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.close();
  });

  it('shows state cards, moves a count within 2 s of an API write, draws charts, pages records and shows history', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${base}/`);
    const chip = (state: string) => page.locator(`.card[data-table="jobs"] .state[data-state="${state}"]`);
    await expect.poll(() => chip('pending').getAttribute('data-count'), { timeout: 5000 }).toBe('40');
    expect(await chip('running').getAttribute('data-count')).toBe('5');
    expect(await page.locator('.card[data-table="jobs"] .state').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('pending'), expect.stringContaining('done'), expect.stringContaining('failed')]),
    );

    const written = Date.now();
    const response = await fetch(`${base}/api/v1/tables/jobs/records`, {
      method: 'POST',
      headers: { ...WRITE, 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'new-1' }, { id: 'new-2' }]),
    });
    expect(response.status).toBe(201);
    await expect.poll(() => chip('pending').getAttribute('data-count'), { timeout: 2000, interval: 50 }).toBe('42');
    const movedMs = Date.now() - written;
    expect(movedMs).toBeLessThan(2000);

    await expect
      .poll(
        () =>
          page.evaluate(() => {
            const charts = (globalThis as unknown as { sluiceDashboard: { charts: Record<string, { data: number[][] }> } }).sluiceDashboard
              .charts;
            const writes = charts['chart-writes']!.data;
            return {
              points: writes[0]!.length,
              anyWrites: writes.slice(1).some((s) => s.some((v) => v > 0)),
              commit: charts['chart-commit']!.data[1]!.length,
            };
          }),
        { timeout: 5000 },
      )
      .toMatchObject({ anyWrites: true });
    const charts = await page.evaluate(() => {
      const c = (globalThis as unknown as { sluiceDashboard: { charts: Record<string, { data: number[][] }> } }).sluiceDashboard.charts;
      return Object.fromEntries(Object.entries(c).map(([id, chart]) => [id, chart.data[0]!.length]));
    });
    expect(charts['chart-writes']).toBeGreaterThan(0);
    expect(charts['chart-commit']).toBeGreaterThan(0);
    expect(charts['chart-queue']).toBeGreaterThan(0);

    await page.selectOption('#q-table', 'jobs');
    await page.fill('#q-where', '{"status": {"$in": ["pending", "running"]}}');
    await page.fill('#q-order', 'id');
    await page.fill('#q-limit', '10');
    await page.click('#q-run');
    await expect.poll(() => page.locator('#rows tbody tr').count()).toBe(10);
    const first = await page.locator('#rows tbody tr').first().getAttribute('data-key');
    expect(first).toBe('job-000');
    await page.click('#q-next');
    await expect.poll(() => page.locator('#rows tbody tr').first().getAttribute('data-key')).toBe('job-010');
    expect(await page.textContent('#q-info')).toContain('20 row(s)');

    await page.fill('#q-where', '{"status": "running"}');
    await page.click('#q-run');
    await expect.poll(() => page.locator('#rows tbody tr').count()).toBe(5);
    await page.locator('#rows tbody tr').first().click();
    await expect.poll(() => page.locator('#history-list li').count()).toBe(2);
    expect(await page.locator('#history-list li').last().textContent()).toMatch(/pending → running\s+\(test\)/);

    await page.fill('#q-where', '{"nope": 1}');
    await page.click('#q-run');
    await expect.poll(() => page.textContent('#q-info')).toMatch(/VALIDATION: .*unknown column "nope"/);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.info(`dashboard: a write showed on the page after ${movedMs} ms; screenshot ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  it('weighs under 200 kB with every asset, all served locally', async () => {
    const html = await (await fetch(`${base}/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!).filter((p) => p.startsWith('/dashboard/'));
    expect(assets.length).toBe(4);
    let bytes = Buffer.byteLength(html);
    for (const asset of assets) {
      const response = await fetch(`${base}${asset}`);
      expect(response.status).toBe(200);
      bytes += (await response.arrayBuffer()).byteLength;
    }
    console.info(`dashboard page weight: ${bytes} bytes uncompressed`);
    expect(bytes).toBeLessThan(200 * 1024);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('serves /metrics that promtool check metrics accepts', async () => {
    await fetch(`${base}/api/v1/tables/items/records/1`);
    await db.table(items).insert({ id: 1, name: 'one' });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('sluice_http_requests_total{method="GET",route="/api/v1/tables/items/records/:key",status="404"}');
    expect(text).toContain('sluice_http_request_duration_seconds_bucket');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    expect({ status: check.status, out: `${check.stdout}${check.stderr}`.trim() }).toEqual({ status: 0, out: '' });
  });

  it('publishes an OpenAPI 3.1 document that validates against the official schema, with each table as a schema', async () => {
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as Record<string, any>;
    const validator = new Validator();
    const result = await validator.validate(spec);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(spec.components.schemas.jobs.properties.status).toEqual({ type: 'string', enum: ['pending', 'running', 'failed', 'done'] });
    expect(spec.components.schemas.items.properties.createdAt).toEqual({ type: 'string', format: 'date-time' });
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/tables/jobs/records/{key}/transition',
        '/api/v1/tables/jobs/claims',
        '/api/v1/tables/readings/records/{key}',
        '/api/v1/tasks/{id}/result',
        '/metrics',
        '/readyz',
      ]),
    );
    expect(spec.paths['/api/v1/tables/items/records'].post.security).toEqual([{ bearer: [] }]);
    const docs = await fetch(`${base}/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).not.toMatch(/<script[^>]+src="https?:/);
  });
});
