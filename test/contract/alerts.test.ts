import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { type Database, defineTable, open } from '../../src/index.js';
import { forEachDialect, tempDir } from '../support/databases.js';

const violations = defineTable('violation_events', {
  columns: { id: 'integer', camera: 'text', status: 'text' },
  primaryKey: 'id',
  timestamps: true,
  lifecycle: { column: 'status', initial: 'open', transitions: { open: ['closed'] } },
});
const counters = defineTable('counters', { columns: { id: 'integer', n: 'integer' }, primaryKey: 'id' });

const conflictRule = {
  name: 'conflicts',
  metric: 'sluice_write_ops_failed_total',
  labels: { code: 'CONFLICT' },
  rate: { perMinuteAbove: 100 },
  severity: 'critical' as const,
};
const violationRule = { name: 'open-violations', table: violations, where: { status: 'open' }, windowMs: 600_000, countAbove: 3 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A webhook receiver of the test's own: records bodies, or never answers when told to hang. */
async function receiver(mode: 'ok' | 'hang'): Promise<{ url: string; bodies: unknown[]; server: Server }> {
  const bodies: unknown[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      if (mode === 'ok') res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

async function firingGauge(db: Database, rule: string): Promise<number | undefined> {
  const metric = db.metrics.getSingleMetric('sluice_alerts_firing');
  const { values } = (await metric?.get()) ?? { values: [] };
  return values.find((v) => v.labels.rule === rule)?.value;
}

forEachDialect('alert rules', (t) => {
  it('fires and resolves a metric rule (conflicts per minute), with history rows, the gauge and the webhook', async () => {
    const hook = await receiver('ok');
    const db = await t.open({ name: 'metric', tables: [counters], alerts: [conflictRule], alertIntervalMs: 0, alertWebhook: hook.url });
    await db.migrate();
    const table = db.table(counters);
    await table.insert({ id: 1, n: 0 });
    expect((await db.alerts.evaluate())[0]).toMatchObject({ state: 'ok' });
    // 50 compare-and-set misses in a moment: thousands per minute.
    const misses = await Promise.allSettled(Array.from({ length: 50 }, () => table.update(1, { n: 1 }, { where: { n: 99 } })));
    expect(misses.every((m) => m.status === 'rejected')).toBe(true);
    await sleep(50);
    expect((await db.alerts.evaluate())[0]).toMatchObject({ state: 'firing', severity: 'critical' });
    expect(db.alerts.firing().map((a) => a.name)).toEqual(['conflicts']);
    expect(await firingGauge(db, 'conflicts')).toBe(1);
    await sleep(50);
    expect((await db.alerts.evaluate())[0]).toMatchObject({ state: 'ok', value: 0 });
    expect(await firingGauge(db, 'conflicts')).toBe(0);
    expect((await db.alerts.history()).map((h) => h.state)).toEqual(['resolved', 'firing']);
    const deadline = Date.now() + 5000;
    while (hook.bodies.length < 2 && Date.now() < deadline) await sleep(10);
    expect(hook.bodies).toMatchObject([
      { rule: 'conflicts', state: 'firing', severity: 'critical' },
      { rule: 'conflicts', state: 'resolved' },
    ]);
  });

  it('fires a table rule once its count has held for forMs, and resolves when rows leave the filter', async () => {
    const db = await t.open({ name: 'table', tables: [violations], alerts: [{ ...violationRule, forMs: 80 }], alertIntervalMs: 0 });
    await db.migrate();
    const table = db.table(violations);
    for (let id = 1; id <= 4; id++) await table.insert({ id, camera: 'cam-1' });
    expect((await db.alerts.evaluate())[0]).toMatchObject({ state: 'pending', value: 4 });
    await sleep(100);
    expect((await db.alerts.evaluate())[0]).toMatchObject({ state: 'firing', value: 4 });
    await table.transition(1, 'closed');
    await table.transition(2, 'closed');
    expect((await db.alerts.evaluate())[0]).toMatchObject({ state: 'ok', value: 2 });
    const history = await db.alerts.history({ rule: 'open-violations' });
    expect(history.map((h) => [h.state, h.value])).toEqual([
      ['resolved', 2],
      ['firing', 4],
    ]);
    expect(history[1]?.message).toMatch(/4 violation_events rows match/);
  });

  it('evaluates on its timer', async () => {
    const db = await t.open({ name: 'timer', tables: [violations], alerts: [violationRule], alertIntervalMs: 30 });
    await db.migrate();
    for (let id = 1; id <= 5; id++) await db.table(violations).insert({ id, camera: 'cam-2' });
    // The timer may have run between the 4th and 5th insert (firing at 4): wait for a run after the last.
    const deadline = Date.now() + 3000;
    while (db.alerts.firing()[0]?.value !== 5 && Date.now() < deadline) await sleep(10);
    expect(db.alerts.firing()).toMatchObject([{ name: 'open-violations', value: 5 }]);
  });
});

describe('alert delivery and configuration', () => {
  it('a webhook receiver that hangs does not slow writes, and close() does not wait on it', async () => {
    const hook = await receiver('hang');
    const dir = tempDir();
    const db = await open({
      url: `sqlite:${dir}/hang.db`,
      tables: [counters],
      alerts: [{ name: 'any-write', metric: 'sluice_write_ops_ok_total', value: { above: 0 } }],
      alertIntervalMs: 0,
      alertWebhook: hook.url,
    });
    await db.migrate();
    await db.table(counters).insert({ id: 0, n: 0 });
    await db.alerts.evaluate();
    expect(db.alerts.firing()).toHaveLength(1);
    const started = performance.now();
    for (let round = 0; round < 10; round++)
      await Promise.all(Array.from({ length: 100 }, (_, i) => db.table(counters).insert({ id: 1 + round * 100 + i, n: i })));
    const writeMs = performance.now() - started;
    const closing = performance.now();
    await db.close();
    expect(writeMs).toBeLessThan(3000);
    expect(performance.now() - closing).toBeLessThan(4000);
    expect(hook.bodies).toHaveLength(1);
  });

  it('refuses bad rules at open with CONFIG, naming the rule', async () => {
    const dir = tempDir();
    const url = `sqlite:${dir}/bad.db`;
    await expect(open({ url, tables: [counters], alerts: [conflictRule, conflictRule] })).rejects.toThrow(/"conflicts" is used twice/);
    await expect(open({ url, tables: [counters], alerts: [{ ...conflictRule, rate: undefined }] as never })).rejects.toThrow(
      /exactly one of value/,
    );
    await expect(open({ url, tables: [counters], alerts: [violationRule] })).rejects.toThrow(/not among the tables passed to open/);
    await expect(
      open({ url, tables: [counters], alerts: [{ name: 'x', table: counters, windowMs: 1000, countAbove: 1 }] }),
    ).rejects.toThrow(/time must name a timestamp column/);
    await expect(open({ url, tables: [counters], alerts: [{ ...conflictRule, severty: 'x' }] as never })).rejects.toMatchObject({
      code: 'CONFIG',
    });
  });
});
