import { afterAll, expect, it } from 'vitest';
import type { Database } from '../../../src/index.js';
import { describeWithPostgres } from '../../support/postgres-suite.js';
import { withPostgres } from '../../support/services.js';
import { freezableProxy, missingOnTarget, range } from './edge-files.js';
import { edgeOpener, syncedKv, targetSchema } from './sync-support.js';

async function until<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (performance.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const targetOf = (db: Database) => () => db.sync.status().target;

describeWithPostgres('sync status tells the truth', () => {
  const schema = targetSchema('status');
  const edges = edgeOpener(schema);
  const proxies: Awaited<ReturnType<typeof freezableProxy>>[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });

  it('a hung link reads stalled within statementTimeoutMs, then up again once it answers', async () => {
    const proxy = await freezableProxy();
    proxies.push(proxy);
    const db = await edges.open('hung', {
      tables: [syncedKv],
      sync: { target: proxy.url, statementTimeoutMs: 1000, connectTimeoutMs: 1000 },
    });
    await db.migrate();
    const kv = db.table(syncedKv);
    await kv.insert({ id: 1, version: 1 });
    await db.sync.flush();
    expect(db.sync.status().target).toBe('up');
    proxy.freeze();
    const frozenAt = performance.now();
    await kv.insert({ id: 2, version: 1 });
    await until('target while the link hangs', targetOf(db), (t) => t === 'stalled', 4000);
    const ms = performance.now() - frozenAt;
    const status = db.sync.status();
    console.log(`hung link: stalled after ${Math.round(ms)} ms; ${status.lastError}`);
    expect(ms).toBeLessThan(1000 + 1500);
    expect(status.lastError).toMatch(/no answer|timeout/i);
    expect(await db.metrics.metrics()).toMatch(/sluice_sync_target_state\{state="stalled"\} 1/);
    await expect(db.sync.flush()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    proxy.thaw();
    await until('target once the link answers', targetOf(db), (t) => t === 'up', 10_000);
    await db.sync.flush();
    expect(await missingOnTarget(schema, 'sync_kv', [1, 2])).toBe(0);
    expect(db.sync.status()).toMatchObject({ target: 'up', lastError: undefined, pending: 0 });
  }, 30_000);

  it('the openGauss statement sent to PostgreSQL reads refusing, is retried slowly, and flush says it is a configuration error', async () => {
    const db = await edges.open('wrong-flavor', {
      tables: [syncedKv],
      sync: { flavor: 'opengauss', backoffInitialMs: 10, backoffMaxMs: 600 },
    });
    await db.migrate();
    await db.table(syncedKv).insert({ id: 1, version: 1 });
    await until('target with the wrong flavor', targetOf(db), (t) => t === 'refusing', 3000);
    const from = db.sync.status().failed;
    await new Promise((r) => setTimeout(r, 1500));
    const attempts = db.sync.status().failed - from;
    const status = db.sync.status();
    console.log(`wrong flavor: ${attempts} attempts in 1.5 s; ${status.lastError}`);
    // At full speed (10 ms doubling) it would have tried about eight times.
    expect(attempts).toBeLessThanOrEqual(3);
    expect(status).toMatchObject({ target: 'refusing', pending: 1 });
    expect(status.lastError).toMatch(/42601/);
    await expect(db.sync.flush()).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('a dropped target column reads refusing and ships again once the column is back', async () => {
    const db = await edges.open('dropped', {
      tables: [syncedKv],
      sync: { backoffInitialMs: 10, backoffMaxMs: 800 },
    });
    await db.migrate();
    const kv = db.table(syncedKv);
    await kv.insert({ id: 1, version: 1, note: 'before' });
    await db.sync.flush();
    await withPostgres((c) => c.query(`alter table "${schema}".sync_kv drop column note`));
    await kv.insert({ id: 2, version: 1, note: 'after' });
    await until('target without the column', targetOf(db), (t) => t === 'refusing', 3000);
    expect(db.sync.status().lastError).toMatch(/42703/);
    // The shipper's own migration puts a missing column back on its next (slow) attempt.
    await until('target once the column is back', targetOf(db), (t) => t === 'up', 5000);
    await db.sync.flush();
    const rows = await withPostgres(async (c) => (await c.query(`select id::int, note from "${schema}".sync_kv where id = 2`)).rows);
    expect(rows).toEqual([{ id: 2, note: 'after' }]);
    expect(db.sync.status().lastError).toBeUndefined();
  });

  it('dead letters: flush reports them, progress stays below 1, and lastError clears once a ship succeeds', async () => {
    const db = await edges.open('poison', { tables: [syncedKv], sync: { intervalMs: 3_600_000, batchSize: 1000 } });
    await db.migrate();
    await withPostgres((c) => c.query(`alter table "${schema}".sync_kv add constraint no_13 check (id <> 13)`));
    const kv = db.table(syncedKv);
    try {
      await Promise.all(range(0, 100).map((id) => kv.upsert({ id: 1000 + id, version: 1 })));
      await kv.upsert({ id: 13, version: 1 });
      const result = await db.sync.flush();
      const status = db.sync.status();
      expect(result).toEqual({ shipped: 100, deadLettered: 1 });
      expect(status).toMatchObject({ pending: 0, deadLetters: 1 });
      expect(status.progress).toBeLessThan(1);
      expect(status.lastError).toMatch(/no_13/);
      await withPostgres((c) => c.query(`alter table "${schema}".sync_kv drop constraint no_13`));
      expect(await db.sync.retry()).toBe(1);
      expect(await db.sync.flush()).toEqual({ shipped: 1, deadLettered: 0 });
      expect(db.sync.status()).toMatchObject({ pending: 0, deadLetters: 0, progress: 1, lastError: undefined });
    } finally {
      await withPostgres((c) => c.query(`alter table "${schema}".sync_kv drop constraint if exists no_13`));
    }
  });
});
