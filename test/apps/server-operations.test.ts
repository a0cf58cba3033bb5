import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Database, defineRollup, defineTable, type OpenOptions, open } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { tempDir } from '../support/databases.js';
import { followEvents } from './server-support.js';

const ROOT = join(import.meta.dirname, '..', '..');
// Forks the compiled CLI: run `npm run build` first.
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
/** Nothing listens on port 1: a connection there is refused at once. */
const CLOSED = '127.0.0.1:1';

const violations = defineTable('violations', {
  columns: { id: 'integer', camera: 'text', status: 'text', people: 'integer' },
  primaryKey: 'id',
  timestamps: true,
  sync: true,
});
const hourly = defineRollup('violations_hourly', {
  from: violations,
  time: 'createdAt',
  every: 'hour',
  groupBy: ['camera'],
  measures: { events: 'count', people: { sum: 'people' }, peak: { max: 'people' } },
});

describe('HTTP operations: alerts, readiness, rollups', () => {
  const dir = tempDir('sluice-ops-');
  const opened: { db: Database; app: SluiceServer }[] = [];
  afterAll(async () => {
    for (const { db, app } of opened) {
      await app.close();
      await db.close();
    }
  });
  async function serve(name: string, options: Partial<OpenOptions> = {}): Promise<{ db: Database; app: SluiceServer }> {
    const db = await open({ url: `sqlite:${join(dir, `${name}.db`)}`, tables: [violations], ...options });
    await db.migrate();
    const app = createServer(db, { eventIntervalMs: 100 });
    opened.push({ db, app });
    return { db, app };
  }
  const get = async (app: SluiceServer, url: string) => {
    const response = await app.inject({ method: 'GET', url });
    return { status: response.statusCode, body: response.json() };
  };

  it('answers GET /api/v1/alerts with the rules, the firing ones and the history, and feeds them to the dashboard', async () => {
    const { db, app } = await serve('alerts', {
      alerts: [
        { name: 'open-violations', table: violations, where: { status: 'open' }, windowMs: 600_000, countAbove: 1, severity: 'critical' },
      ],
      alertIntervalMs: 0,
    });
    expect((await get(app, '/api/v1/alerts')).body).toMatchObject({
      enabled: true,
      firing: [],
      history: [],
      rules: [{ state: 'ok', value: null }],
    });
    const events = await followEvents(`${await app.listen({ port: 0, host: '127.0.0.1' })}/api/v1/events`);
    try {
      const table = db.table(violations);
      for (let id = 1; id <= 3; id++) await table.insert({ id, camera: 'cam-1', status: 'open', people: id });
      await db.alerts.evaluate();
      const alert = JSON.parse((await events.next('alert')).data);
      expect(alert).toMatchObject({ event: 'firing', name: 'open-violations', state: 'firing', value: 3 });
      const snapshot = JSON.parse((await events.next('snapshot')).data);
      expect(snapshot.alerts).toMatchObject([{ name: 'open-violations', state: 'firing', severity: 'critical' }]);
    } finally {
      await events.close();
    }
    await db.flush();
    const answer = await get(app, '/api/v1/alerts?limit=10');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ enabled: true, firing: ['open-violations'], rules: [{ state: 'firing', value: 3 }] });
    expect(answer.body.history).toMatchObject([{ rule: 'open-violations', state: 'firing', value: 3 }]);
    expect(new Date(answer.body.history[0].at).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await get(app, '/api/v1/alerts?rule=other')).body.history).toEqual([]);
  });

  it('answers an empty list without alert rules', async () => {
    const { app } = await serve('quiet');
    expect(await get(app, '/api/v1/alerts')).toEqual({ status: 200, body: { enabled: false, rules: [], firing: [], history: [] } });
  });

  it('says degraded, not unready, while the sync target and Redis are unreachable; 503 once the database is gone', async () => {
    const { db, app } = await serve('degraded', {
      sync: { target: `postgres://postgres@${CLOSED}/test` },
      cache: { redisUrl: `redis://${CLOSED}` },
    });
    await db.table(violations).insert({ id: 1, camera: 'cam-1', status: 'open', people: 1 });
    expect(db.stats().cache.l2).toMatchObject({ configured: true });
    await expect.poll(async () => (await get(app, '/readyz')).body.degraded?.length, { timeout: 10_000 }).toBe(2);
    const ready = await get(app, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ok: true, status: 'degraded', schemaVersion: 1 });
    expect(ready.body.degraded).toEqual([
      expect.objectContaining({ component: 'sync', state: 'down' }),
      expect.objectContaining({ component: 'redis', state: 'down', message: expect.stringMatching(/reads go to the database/) }),
    ]);
    // Writes go on locally meanwhile.
    expect(await db.table(violations).count()).toBe(1);

    const { app: healthy } = await serve('healthy');
    expect((await get(healthy, '/readyz')).body).toEqual({ ok: true, status: 'ready', schemaVersion: 1, degraded: [] });

    await db.close();
    const closed = await get(app, '/readyz');
    expect(closed).toMatchObject({ status: 503, body: { error: { code: 'CLOSED' } } });
  });

  it('lists rollups and reads them like tables, paged; refuses writes to them', async () => {
    const { db, app } = await serve('rollups', { tables: [violations, hourly], rollups: [hourly] });
    const table = db.table(violations);
    for (let id = 1; id <= 5; id++) await table.insert({ id, camera: `cam-${id % 2}`, status: 'open', people: id });
    const { tables } = (await get(app, '/api/v1/tables')).body as { tables: { name: string; rollup: unknown }[] };
    expect(tables.find((x) => x.name === 'violations')?.rollup).toBeNull();
    expect(tables.find((x) => x.name === 'violations_hourly')?.rollup).toEqual({
      source: 'violations',
      time: 'createdAt',
      every: 'hour',
      groupBy: ['camera'],
      measures: [
        { name: 'events', kind: 'count', column: null },
        { name: 'people', kind: 'sum', column: 'people' },
        { name: 'peak', kind: 'max', column: 'people' },
      ],
    });
    const base = '/api/v1/tables/violations_hourly';
    const first = await get(app, `${base}/records?orderBy=camera&limit=1`);
    expect(first.status).toBe(200);
    expect(first.body.rows).toMatchObject([{ camera: 'cam-0', events: 2, people: 6, peak: 4 }]);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await get(app, `${base}/records?orderBy=camera&limit=1&after=${encodeURIComponent(first.body.next)}`);
    expect(second.body.rows).toMatchObject([{ camera: 'cam-1', events: 3, people: 9, peak: 5 }]);
    expect((await get(app, `${base}/count?where=${encodeURIComponent('{"camera":"cam-1"}')}`)).body).toEqual({ count: 1 });
    const write = await app.inject({ method: 'POST', url: `${base}/records`, payload: { camera: 'x' } });
    expect(write.statusCode).toBe(404);
    expect(write.json().error.message).toMatch(/violations_hourly is a rollup of violations.*read-only/);
    const openapi = JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body);
    expect(Object.keys(openapi.paths[`${base}/records`])).toEqual(['get']);
    expect(openapi.paths['/api/v1/alerts'].get.responses['200'].content['application/json'].schema.required).toEqual([
      'enabled',
      'rules',
      'firing',
      'history',
    ]);
  });
});

describe('sluice serve on a file that is not migrated', () => {
  it('logs one line for a failure that repeats every reaper tick, with no stack trace', { timeout: 30_000 }, async () => {
    const dir = tempDir('sluice-unmigrated-');
    const schema = join(dir, 'schema.mjs');
    writeFileSync(
      schema,
      `import { defineTable } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)};
export const tables = [defineTable('jobs', {
  columns: { id: 'text', status: 'text' },
  primaryKey: 'id',
  lifecycle: { column: 'status', initial: 'pending', transitions: { pending: ['running'], running: ['done', 'pending'] }, leases: { expireTo: 'pending' } },
})];\n`,
    );
    const child = spawn(process.execPath, [CLI, 'serve', '--db', `sqlite:${join(dir, 'fresh.db')}`, '--schema', schema, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await expect.poll(() => stderr, { timeout: 15_000 }).toMatch(/dashboard at/);
    // The reaper fails on the missing table every tick; a few seconds hold several of them.
    await expect.poll(() => stderr, { timeout: 15_000 }).toMatch(/no such table: jobs/);
    await new Promise((r) => setTimeout(r, 5000));
    const before = stderr;
    child.kill('SIGTERM');
    await once(child, 'exit');
    const errorLines = before.split('\n').filter((line) => line.startsWith('[sluice] error'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/no such table: jobs\. Run db\.migrate\(\)/);
    expect(stderr).not.toMatch(/\n\s+at /);
    // The close writes the summary: how many more there were, in one line.
    expect(stderr).toMatch(/and \d+ more like it in 10 s/);
  });
});
