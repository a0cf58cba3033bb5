import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { forEachDialect } from '../support/databases.js';
import { items, readings } from '../support/tables.js';
import { jobs, keyPath, READ_TOKEN, TOKEN, WRITE } from './server-support.js';

const T = '/api/v1/tables';

forEachDialect('HTTP routes', (t) => {
  let db: Database;
  let app: SluiceServer;
  beforeAll(async () => {
    db = await t.open({ tables: [items, readings, jobs], tasks: true });
    await db.migrate();
    app = createServer(db, { token: TOKEN, schemaVersion: 1, maxRowsPerRequest: 50, maxLimit: 500 });
  });
  afterAll(async () => {
    await app?.close();
  });
  const call = async (method: string, url: string, payload?: unknown, headers: Record<string, string> = WRITE) => {
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    const body = response.headers['content-type']?.toString().includes('json') ? response.json() : response.body;
    return { status: response.statusCode, body, headers: response.headers };
  };

  it('answers health, readiness, stats, tables and metrics', async () => {
    expect((await call('GET', '/healthz')).body).toEqual({ ok: true });
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { ok: true } });
    expect((await call('GET', '/api/v1/stats')).body).toMatchObject({ dialect: t.dialect, queue: { total: 0 } });
    const tables = (await call('GET', '/api/v1/tables')).body.tables as { name: string; lifecycle: unknown }[];
    expect(tables.map((x) => x.name)).toEqual(['items', 'readings', 'jobs', 'sluice_tasks']);
    expect(tables.find((x) => x.name === 'jobs')?.lifecycle).toMatchObject({ column: 'status', initial: 'pending', leases: true });
    const metrics = await call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('sluice_http_requests_total');
    expect(metrics.body).toContain('sluice_commit_seconds');
  });

  it('inserts, reads, counts, patches with compare-and-set, upserts and deletes', async () => {
    const created = await call('POST', `${T}/items/records`, {
      id: 1,
      name: 'one',
      createdAt: '2024-05-01T00:00:00.000Z',
      payload: 'AQID',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 1, name: 'one', status: 'pending', createdAt: '2024-05-01T00:00:00.000Z', payload: 'AQID' });
    expect((await call('GET', `${T}/items/records/1`)).body).toMatchObject({ id: 1, name: 'one', payload: 'AQID' });
    const many = await call('POST', `${T}/items/records`, [
      { id: 2, name: 'two', score: 2.5 },
      { id: 3, name: 'three', meta: { deep: [1, 2] } },
    ]);
    expect(many.status).toBe(201);
    expect(many.body.rows.map((r: { id: number }) => r.id)).toEqual([2, 3]);
    expect((await call('GET', `${T}/items/count?where=${encodeURIComponent('{"id":{"$gte":2}}')}`)).body).toEqual({ count: 2 });
    const cas = `${T}/items/records/2?where=${encodeURIComponent('{"status":"done"}')}`;
    expect(await call('PATCH', cas, { note: 'x' })).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT' } } });
    expect(
      (await call('PATCH', `${T}/items/records/2?where=${encodeURIComponent('{"status":"pending"}')}`, { note: 'x' })).body,
    ).toMatchObject({
      id: 2,
      note: 'x',
    });
    expect(await call('POST', `${T}/items/records`, { id: 2, name: 'again' })).toMatchObject({
      status: 409,
      body: { error: { code: 'CONSTRAINT' } },
    });
    expect((await call('POST', `${T}/items/records?upsert=true`, { id: 2, name: 'again' })).body).toMatchObject({
      id: 2,
      name: 'again',
      note: null,
    });
    expect(await call('DELETE', `${T}/items/records/3`)).toMatchObject({ status: 200, body: { deleted: true } });
    expect(await call('DELETE', `${T}/items/records/3`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await call('GET', `${T}/items/records/3`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    expect(await call('PATCH', `${T}/items/records/3`, { note: 'y' })).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
  });

  it('reports a failed row of a multi-row insert by index, and commits the others', async () => {
    const result = await call('POST', `${T}/items/records`, [
      { id: 10, name: 'ten' },
      { id: 11, name: 'ten' },
    ]);
    expect(result.status).toBe(409);
    expect(result.body.error).toMatchObject({ code: 'CONSTRAINT' });
    expect(result.body.error.message).toMatch(/Row 1 of 2 failed.*1 of the rows were committed/);
    expect((await call('GET', `${T}/items/records/10`)).status).toBe(200);
  });

  it('takes composite keys as JSON arrays', async () => {
    expect((await call('POST', `${T}/readings/records`, { sensor: 's/1', at: 5, value: 1.5 })).status).toBe(201);
    expect((await call('GET', `${T}/readings/records/${keyPath(['s/1', 5])}`)).body).toEqual({ sensor: 's/1', at: 5, value: 1.5 });
    expect((await call('PATCH', `${T}/readings/records/${keyPath(['s/1', 5])}`, { value: 2 })).body).toMatchObject({ value: 2 });
    const short = await call('GET', `${T}/readings/records/${keyPath(['s/1'])}`);
    expect(short).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION' } } });
    expect(short.body.error.message).toMatch(/composite key \(sensor, at\)/);
    expect(await call('GET', `${T}/readings/records/${keyPath(['s/1', 6])}`)).toMatchObject({ status: 404 });
    expect(await call('DELETE', `${T}/readings/records/${keyPath(['s/1', 5])}`)).toMatchObject({ status: 200, body: { deleted: true } });
  });

  it('transitions, claims with leases, settles with the fencing token and keeps history', async () => {
    await call('POST', `${T}/jobs/records`, [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const claimed = await call('POST', `${T}/jobs/claims`, { from: 'pending', to: 'running', limit: 2, leaseMs: 60_000, owner: 'w1' });
    expect(claimed.status).toBe(200);
    expect(claimed.body.rows.map((r: { id: string; leaseOwner: string }) => [r.id, r.leaseOwner])).toEqual([
      ['a', 'w1'],
      ['b', 'w1'],
    ]);
    const token = claimed.body.rows[0].attempt as number;
    const stale = await call('POST', `${T}/jobs/records/a/transition`, { to: 'done', token: token + 1 });
    expect(stale.body).toMatchObject({ applied: false, row: { status: 'running' } });
    expect((await call('POST', `${T}/jobs/records/a/transition`, { to: 'done', token, set: { size: 7 } })).body).toMatchObject({
      applied: true,
      row: { status: 'done', size: 7 },
    });
    expect(await call('POST', `${T}/jobs/records/a/transition`, { to: 'nowhere' })).toMatchObject({ status: 400 });
    expect((await call('POST', `${T}/jobs/records/c/transition`, { to: 'done' })).body).toMatchObject({
      applied: false,
      row: { status: 'pending' },
    });
    expect(await call('POST', `${T}/jobs/records/c/transition`, { to: 'done', from: 'pending' })).toMatchObject({
      status: 409,
      body: { error: { code: 'ILLEGAL_TRANSITION' } },
    });
    expect(await call('POST', `${T}/jobs/records/zz/transition`, { to: 'running' })).toMatchObject({ status: 404 });
    const history = (await call('GET', `${T}/jobs/records/a/history`)).body.history as {
      from: string | null;
      to: string;
      actor: string | null;
    }[];
    expect(history.map((h) => `${h.from}->${h.to}`)).toEqual(['null->pending', 'pending->running', 'running->done']);
    expect(history[1]?.actor).toBe('w1');
    expect(await call('POST', `${T}/items/records/1/transition`, { to: 'done' })).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    const counts = await call('GET', `${T}/jobs/count?where=${encodeURIComponent('{"status":"running"}')}`);
    expect(counts.body).toEqual({ count: 1 });
  });

  it('answers 200 for an upsert that replaced a row and 201 for one that created it', async () => {
    const created = await call('POST', `${T}/readings/records?upsert=true`, { sensor: 'u', at: 1, value: 1 });
    expect(created).toMatchObject({ status: 201, body: { sensor: 'u', at: 1, value: 1 } });
    const replaced = await call('POST', `${T}/readings/records?upsert=true`, { sensor: 'u', at: 1, value: 2 });
    expect(replaced).toMatchObject({ status: 200, body: { value: 2 } });
    const allOld = await call('POST', `${T}/readings/records?upsert=true`, [{ sensor: 'u', at: 1, value: 3 }]);
    expect(allOld).toMatchObject({ status: 200, body: { rows: [{ value: 3 }] } });
    const mixed = await call('POST', `${T}/readings/records?upsert=true`, [
      { sensor: 'u', at: 1, value: 4 },
      { sensor: 'u', at: 2, value: 5 },
    ]);
    expect(mixed).toMatchObject({ status: 201, body: { rows: [{ value: 4 }, { value: 5 }] } });
    // The same new key twice in one request: one creates it, the other replaces it; neither fails.
    const twice = await call('POST', `${T}/readings/records?upsert=true`, [
      { sensor: 'u', at: 3, value: 6 },
      { sensor: 'u', at: 3, value: 7 },
    ]);
    expect(twice.status).toBe(201);
    expect((await db.table(readings).get({ sensor: 'u', at: 3 }))?.value).toBe(7);
    const onLifecycle = await call('POST', `${T}/jobs/records?upsert=true`, { id: 'up', size: 1 });
    expect(onLifecycle.status).toBe(201);
    expect(await call('POST', `${T}/jobs/records?upsert=true`, { id: 'up', size: 2 })).toMatchObject({ status: 200, body: { size: 2 } });
    expect((await call('POST', `${T}/readings/records`, { sensor: 'u', at: 9, value: 1 })).status).toBe(201);
    expect((await call('POST', `${T}/readings/records`, { sensor: 'u', at: 9, value: 1 })).status).toBe(409);
  });

  it('refuses a PATCH of the lifecycle state before the write and names the transition route', async () => {
    await call('POST', `${T}/jobs/records`, { id: 'p1' });
    for (const state of ['running', 'done']) {
      const patched = await call('PATCH', `${T}/jobs/records/p1`, { status: state, size: 3 });
      expect(patched).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION' } } });
      expect(patched.body.error.message).toMatch(/jobs\.status/);
      expect(patched.body.error.message).toContain('POST /api/v1/tables/jobs/records/{key}/transition');
    }
    expect(await db.table(jobs).get('p1')).toMatchObject({ status: 'pending', size: 0 });
    expect((await call('PATCH', `${T}/jobs/records/p1`, { size: 3 })).body).toMatchObject({ status: 'pending', size: 3 });
  });

  it('says the state a transition that did not apply found, and the state one that did moved to', async () => {
    await call('POST', `${T}/jobs/records`, [{ id: 's1' }, { id: 's2' }]);
    const moved = await call('POST', `${T}/jobs/records/s1/transition`, { to: 'running' });
    expect(moved).toMatchObject({ status: 200, body: { applied: true, state: 'running', row: { status: 'running' } } });
    const lost = await call('POST', `${T}/jobs/records/s1/transition`, { to: 'running' });
    expect(lost).toMatchObject({ status: 200, body: { applied: false, state: 'running' } });
    const never = await call('POST', `${T}/jobs/records/s2/transition`, { to: 'done' });
    expect(never).toMatchObject({ status: 200, body: { applied: false, state: 'pending' } });
    expect(await call('POST', `${T}/jobs/records/none/transition`, { to: 'running' })).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
  });

  it('takes If-Match with the ETag of a GET on PATCH: applies while it matches, 412 once the row moved on', async () => {
    await call('POST', `${T}/jobs/records`, { id: 'etag', size: 1 });
    const read = await call('GET', `${T}/jobs/records/etag`, undefined, {});
    const tag = read.headers.etag as string;
    expect(tag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const patched = await call('PATCH', `${T}/jobs/records/etag`, { size: 2 }, { ...WRITE, 'if-match': tag });
    expect(patched).toMatchObject({ status: 200, body: { size: 2 } });
    expect(patched.headers.etag).not.toBe(tag);
    const stale = await call('PATCH', `${T}/jobs/records/etag`, { size: 3 }, { ...WRITE, 'if-match': tag });
    expect(stale).toMatchObject({ status: 412, body: { error: { code: 'CONFLICT' } } });
    expect((await call('GET', `${T}/jobs/records/etag`, undefined, {})).body.size).toBe(2);
    const fresh = await call('PATCH', `${T}/jobs/records/etag`, { size: 4 }, { ...WRITE, 'if-match': patched.headers.etag as string });
    expect(fresh.body.size).toBe(4);
    expect(await call('PATCH', `${T}/jobs/records/none`, { size: 1 }, { ...WRITE, 'if-match': '*' })).toMatchObject({ status: 404 });
    const json = await call('PATCH', `${T}/items/records/1`, { note: 'x' }, { ...WRITE, 'if-match': '"abc"' });
    expect(json).toMatchObject({ status: 412 });
    const tagged = (await call('GET', `${T}/items/records/1`, undefined, {})).headers.etag as string;
    const refused = await call('PATCH', `${T}/items/records/1`, { note: 'x' }, { ...WRITE, 'if-match': tagged });
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION' } } });
    expect(refused.body.error.message).toMatch(/meta, payload column\(s\) cannot be compared/);
  });

  it('creates tasks and serves their status and result', async () => {
    const created = await call('POST', '/api/v1/tasks', { type: 'ocr', input: { page: 1 } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call('GET', `/api/v1/tasks/${id}`)).body).toMatchObject({ id, status: 'pending', input: { page: 1 } });
    expect(await call('GET', `/api/v1/tasks/${id}/result`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    await db.tasks.start(id);
    await db.tasks.complete(id, { text: 'hello' });
    expect((await call('GET', `/api/v1/tasks/${id}/result`)).body).toEqual({ status: 'completed', result: { text: 'hello' } });
    expect((await call('POST', '/api/v1/tasks', { type: 'ocr', input: { page: 1 } })).body.id).toBe(id);
    expect(await call('GET', '/api/v1/tasks/nope')).toMatchObject({ status: 404 });
  });

  it('maps every bad request to a 4xx that names the problem', async () => {
    const cases: [string, string, unknown, number, string, RegExp][] = [
      ['GET', `${T}/nope/records`, undefined, 404, 'NOT_FOUND', /no table "nope"/],
      ['GET', `${T}/itemz/records`, undefined, 404, 'NOT_FOUND', /did you mean "items"/],
      ['GET', '/api/v2/whatever', undefined, 404, 'NOT_FOUND', /no route GET/],
      ['GET', `${T}/items/records?where=${encodeURIComponent('{"nope":1}')}`, undefined, 400, 'VALIDATION', /unknown column "nope"/],
      ['GET', `${T}/items/records?where=${encodeURIComponent('{"id":{"$regex":"x"}}')}`, undefined, 400, 'VALIDATION', /\$regex/],
      ['GET', `${T}/items/records?where={oops`, undefined, 400, 'VALIDATION', /where parameter is not valid JSON/],
      ['GET', `${T}/items/records?where=${encodeURIComponent('[1]')}`, undefined, 400, 'VALIDATION', /where must be a JSON object/],
      [
        'GET',
        `${T}/items/records?where=${encodeURIComponent(`${'{"$or":'.repeat(40)}{}${'}'.repeat(40)}`)}`,
        undefined,
        400,
        'VALIDATION',
        /./,
      ],
      ['GET', `${T}/items/records?orderBy=-nope`, undefined, 400, 'VALIDATION', /nope/],
      ['GET', `${T}/items/records?after=garbage`, undefined, 400, 'VALIDATION', /cursor/],
      ['GET', `${T}/items/records?limit=100000`, undefined, 400, 'VALIDATION', /limit/],
      ['GET', `${T}/items/records?bogus=1`, undefined, 400, 'VALIDATION', /bogus/],
      ['GET', `${T}/items/records/abc`, undefined, 400, 'VALIDATION', /items\.id is integer/],
      ['POST', `${T}/items/records`, { id: 99, nmae: 'x' }, 400, 'VALIDATION', /nmae/],
      ['POST', `${T}/items/records`, { id: 'x', name: 'x' }, 400, 'VALIDATION', /body\.id must be integer/],
      ['POST', `${T}/items/records`, { name: 'x' }, 400, 'VALIDATION', /id/],
      ['POST', `${T}/items/records`, [], 400, 'VALIDATION', /fewer than 1/],
      [
        'POST',
        `${T}/items/records`,
        Array.from({ length: 51 }, (_, i) => ({ id: 1000 + i, name: `n${i}` })),
        400,
        'VALIDATION',
        /more than 50/,
      ],
      ['POST', `${T}/items/records`, { id: 2 ** 60, name: 'big' }, 400, 'VALIDATION', /./],
      ['PATCH', `${T}/items/records/1`, {}, 400, 'VALIDATION', /fewer than 1 properties/],
      ['PATCH', `${T}/items/records/1`, { id: 5 }, 400, 'VALIDATION', /\(id\)/],
      ['POST', `${T}/jobs/claims`, { from: 'pending', to: 'running', limit: 0, leaseMs: 1, owner: 'w' }, 400, 'VALIDATION', /limit/],
      ['POST', '/api/v1/tasks', { input: 1 }, 400, 'VALIDATION', /type/],
    ];
    for (const [method, url, payload, status, code, message] of cases) {
      const result = await call(method, url, payload);
      expect({ url, status: result.status, code: result.body.error?.code }).toEqual({ url, status, code });
      expect(result.body.error.message).toMatch(message);
      expect(JSON.stringify(result.body)).not.toMatch(/\n\s+at /);
    }
    const raw = await app.inject({
      method: 'POST',
      url: `${T}/items/records`,
      headers: { ...WRITE, 'content-type': 'application/json' },
      payload: '{"id": 1,',
    });
    expect(raw.statusCode).toBe(400);
    expect(raw.json().error.code).toBe('VALIDATION');
    const huge = await app.inject({
      method: 'POST',
      url: `${T}/items/records`,
      headers: { ...WRITE, 'content-type': 'application/json' },
      payload: JSON.stringify({ id: 5000, name: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.message).toMatch(/larger than the server accepts/);
  });

  it('maps library errors to statuses: OVERLOADED 429 and CLOSED 503 with Retry-After', async () => {
    const overloaded = await t.open({ name: 'tiny', tables: [items], gate: { maxQueue: 1, whenFull: 'reject' } });
    await overloaded.migrate();
    const small = createServer(overloaded);
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        small
          .inject({ method: 'POST', url: `${T}/items/records`, payload: { id: i, name: `n${i}` } })
          .then((r) => [r.statusCode, r.headers['retry-after']]),
      ),
    );
    expect(statuses.some(([s]) => s === 201)).toBe(true);
    const refused = statuses.filter(([s]) => s === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every(([, retry]) => retry === '1')).toBe(true);
    await overloaded.close();
    const closed = await small.inject({ method: 'GET', url: `${T}/items/records/1` });
    expect(closed.statusCode).toBe(503);
    expect(closed.json().error.code).toBe('CLOSED');
    expect(closed.headers['retry-after']).toBe('1');
    expect((await small.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    await small.close();
  });

  it('pages through 10,000 rows with after, each row exactly once', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ sensor: `p${i % 7}`, at: i, value: i / 2 }));
    for (let i = 0; i < rows.length; i += 50) {
      const result = await call('POST', `${T}/readings/records`, rows.slice(i, i + 50));
      expect(result.status).toBe(201);
    }
    const seen = new Set<string>();
    let after: string | null = null;
    let pages = 0;
    do {
      const query = new URLSearchParams({ limit: '500', orderBy: '-value', where: JSON.stringify({ sensor: { $like: 'p%' } }) });
      if (after) query.set('after', after);
      const page = await call('GET', `${T}/readings/records?${query}`, undefined, {});
      expect(page.status).toBe(200);
      for (const row of page.body.rows as { sensor: string; at: number }[]) {
        const key = `${row.sensor}:${row.at}`;
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
      after = page.body.next;
      pages++;
    } while (after);
    expect(seen.size).toBe(10_000);
    expect(pages).toBeGreaterThanOrEqual(20);
  });

  describe('auth', () => {
    const writes: [string, string, unknown][] = [
      ['POST', `${T}/items/records`, { id: 700, name: 'auth' }],
      ['PATCH', `${T}/items/records/1`, { note: 'auth' }],
      ['DELETE', `${T}/items/records/2`, undefined],
      ['POST', `${T}/jobs/records/b/transition`, { to: 'pending' }],
      ['POST', `${T}/jobs/claims`, { from: 'pending', to: 'running', limit: 1, leaseMs: 1000, owner: 'x' }],
      ['POST', '/api/v1/tasks', { type: 'auth', input: 1 }],
    ];
    it('refuses every write without a token and with a wrong one, and accepts the right one', async () => {
      for (const [method, url, payload] of writes) {
        const none = await call(method, url, payload, {});
        expect({ url, status: none.status, code: none.body.error.code }).toEqual({ url, status: 401, code: 'UNAUTHORIZED' });
        expect(none.headers['www-authenticate']).toBe('Bearer');
        const wrong = await call(method, url, payload, { authorization: `Bearer ${TOKEN}x` });
        expect({ url, status: wrong.status }).toEqual({ url, status: 401 });
        const right = await call(method, url, payload);
        expect({ url, ok: right.status < 300 }).toEqual({ url, ok: true });
      }
      expect((await call('GET', `${T}/items/records/1`, undefined, {})).status).toBe(200);
    });

    it('closes reads with a read token; the write token reads too; health stays open', async () => {
      const closed = createServer(db, { token: TOKEN, readToken: READ_TOKEN });
      const get = (url: string, headers: Record<string, string> = {}) =>
        closed.inject({ method: 'GET', url, headers }).then((r) => r.statusCode);
      for (const url of [`${T}/items/records`, `${T}/items/records/1`, `${T}/items/count`, '/api/v1/stats', '/metrics', '/api/v1/tables']) {
        expect(await get(url)).toBe(401);
        expect(await get(url, { authorization: 'Bearer not-it-at-all' })).toBe(401);
        expect(await get(url, { authorization: `Bearer ${READ_TOKEN}` })).toBe(200);
        expect(await get(url, WRITE)).toBe(200);
      }
      expect(await get('/healthz')).toBe(200);
      const readerWrites = await closed.inject({
        method: 'POST',
        url: `${T}/items/records`,
        headers: { authorization: `Bearer ${READ_TOKEN}` },
        payload: { id: 701, name: 'r' },
      });
      expect(readerWrites.statusCode).toBe(401);
      await closed.close();
    });
  });
});

describe('server options', () => {
  it('refuses unknown options and short tokens', async () => {
    const fake = {} as Database;
    expect(() => createServer(fake, { tokn: 'x' } as never)).toThrow(/unknown option "tokn"/);
    expect(() => createServer(fake, { token: 'short' })).toThrow(/at least 8 characters/);
    expect(() => createServer(fake, { maxLimit: 0 })).toThrow(/maxLimit must be a whole number/);
  });
});
