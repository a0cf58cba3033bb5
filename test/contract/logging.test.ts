import { describe, expect, it } from 'vitest';
import { defineTable, open } from '../../src/index.js';
import { forEachDialect, tempDir } from '../support/databases.js';
import { recorder } from '../support/recording-logger.js';

const notes = defineTable('notes', {
  columns: { id: 'integer', body: 'text', at: 'timestamp' },
  primaryKey: 'id',
  retention: { column: 'at', maxAgeMs: 60_000 },
});
const jobs = defineTable('log_jobs', {
  columns: { id: 'integer', status: 'text' },
  primaryKey: 'id',
  lifecycle: {
    column: 'status',
    initial: 'pending',
    transitions: { pending: ['running'], running: ['done'] },
    leases: { expireTo: 'pending' },
  },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

forEachDialect('structured logs', (t) => {
  it('logs open, migrate, retention, reaper and close once each, with their fields', async () => {
    const logger = recorder();
    const db = await t.open({ name: 'events', tables: [notes, jobs], logger, maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0 } });
    expect(logger.events('open')).toMatchObject([{ level: 'info', fields: { dialect: t.dialect, tables: ['notes', 'log_jobs'] } }]);
    await db.migrate();
    expect(logger.events('migrate')).toMatchObject([{ fields: { fromVersion: 0, toVersion: 1 } }]);
    await db.table(notes).insert({ id: 1, body: 'old', at: new Date(Date.now() - 3_600_000) });
    await db.runRetention();
    expect(logger.events('retention')).toMatchObject([{ fields: { table: 'notes', deleted: 1 } }]);
    await db.table(jobs).insert({ id: 1 });
    await db.table(jobs).claim({ from: 'pending', to: 'running', limit: 1, leaseMs: 60_000, owner: 'w' });
    await db.table(jobs).renew(1, 1, 1);
    await sleep(5);
    await db.reapExpiredLeases();
    expect(logger.events('reap')).toMatchObject([{ fields: { table: 'log_jobs', returned: 1, exhausted: 0 } }]);
    await db.close();
    expect(logger.events('close')).toHaveLength(1);
  });

  it('logs and counts a write acknowledged later than slowMs, with table, kind and lane, and the lock wait behind it', async () => {
    const logger = recorder();
    const db = await t.open({ name: 'slow', tables: [notes], logger, slowMs: 100 });
    await db.migrate();
    const lock = await t.holdWriteLock('notes', 'slow');
    const write = db.table(notes).insert({ id: 2, body: 'late', at: new Date() }, { priority: 'high' });
    await sleep(300);
    await lock.release();
    await write;
    expect(logger.events('slow_write')).toMatchObject([{ level: 'warn', fields: { table: 'notes', kind: 'insert', lane: 'high' } }]);
    expect(Number(logger.events('slow_write')[0]?.fields.ms)).toBeGreaterThanOrEqual(250);
    // SQLite's gate retries the batch on a timer, and says how long it waited; PostgreSQL waits inside the statement.
    if (t.dialect === 'sqlite') expect(logger.events('lock_wait')).toMatchObject([{ level: 'warn' }]);
    const text = await db.metrics.metrics();
    expect(text).toMatch(/sluice_slow_operations_total\{table="notes",kind="insert"\} 1/);
    expect(text).toMatch(/sluice_write_seconds_count\{table="notes",kind="insert"\} 1/);
    expect(text).toMatch(/sluice_write_seconds_bucket\{le="0.25",table="notes",kind="insert"\} 0/);
    expect(db.stats().tables.notes).toMatchObject({ slow: 1, writes: { insert: { count: 1 } } });
    await db.close();
  });
});

describe('log volume and what never reaches a log', () => {
  it('folds a storm of 10,000 identical failures into a bounded number of lines, with a count', async () => {
    const logger = recorder();
    const db = await open({ url: `sqlite:${tempDir()}/storm.db`, tables: [notes], logger });
    await db.migrate();
    await db.table(notes).insert({ id: 1, body: 'taken', at: new Date() });
    for (let i = 0; i < 10_000; i++) db.table(notes).enqueue({ insert: { id: 1, body: 'again', at: new Date() } });
    await db.flush();
    await db.close();
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.length).toBeLessThanOrEqual(3);
    expect(errors[0]?.fields).toMatchObject({ code: 'CONSTRAINT', table: 'notes' });
    expect(errors.find((l) => l.fields.repeated !== undefined)?.fields.repeated).toBe(9_999);
    expect(errors.every((l) => l.fields.stack === undefined)).toBe(true);
  });

  it('never writes a refused value into a line unless logParams is set', async () => {
    for (const logParams of [false, true]) {
      const logger = recorder();
      const db = await open({ url: `sqlite:${tempDir()}/values-${logParams}.db`, tables: [notes], logger, logParams });
      await db.migrate();
      db.table(notes).enqueue({ insert: { id: 'secret-row-value-42' as never, body: 'x', at: new Date() } });
      await db.flush();
      await db.close();
      const text = JSON.stringify(logger.lines);
      expect(text.includes('secret-row-value-42')).toBe(logParams);
      expect(logger.lines.some((l) => l.level === 'error' && l.fields.code === 'VALIDATION')).toBe(true);
    }
  });

  it('reports a Redis tier that cannot be reached as down', async () => {
    const logger = recorder();
    const cached = defineTable('cached_notes', { columns: { id: 'integer' }, primaryKey: 'id', cache: { ttlMs: 1000, maxEntries: 10 } });
    const db = await open({
      url: `sqlite:${tempDir()}/tier.db`,
      tables: [cached],
      logger,
      cache: { redisUrl: 'redis://127.0.0.1:1', staleBoundMs: 200 },
    });
    const deadline = Date.now() + 3000;
    while (logger.events('cache_tier').length === 0 && Date.now() < deadline) await sleep(20);
    expect(logger.events('cache_tier')[0]).toMatchObject({ level: 'warn', fields: { state: 'down' } });
    await db.close();
  });
});
