import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { forEachDialect } from '../support/databases.js';
import { items, readings } from '../support/tables.js';
import { jobs, keyPath, TOKEN, WRITE } from './server-support.js';

const RUNS = 20_000;
const T = '/api/v1/tables';

/** Small key spaces, so writes collide with each other and reads find rows. */
const itemId = fc.integer({ min: 1, max: 40 });
const jobId = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f/g', 'h i', 'ü');
const hostileText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    "'; drop table items; --",
    '"',
    '\\',
    '%',
    '_',
    '\u0000',
    '../../etc/passwd',
    '__proto__',
    'constructor',
    '$or',
    '{}',
    '[]',
  ),
);
const hugeNumber = fc.constantFrom(2 ** 53, -(2 ** 63), 1e308, -1e-320, 1.2345678901234567e19);
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 4 }), hugeNumber, hostileText);
const deep = fc.integer({ min: 30, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
const deepFilter = fc.integer({ min: 20, max: 200 }).map((n) => `${'{"$or":['.repeat(n)}{}${']}'.repeat(n)}`);

const column = fc.constantFrom('id', 'name', 'score', 'active', 'meta', 'createdAt', 'status', 'note', 'nope', '$and', 'sensor', 'value');
const operator = fc.constantFrom('$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$like', '$null', '$regex', '$where');
const filter: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.dictionary(column, fc.oneof(anyJson, fc.dictionary(operator, anyJson, { maxKeys: 2 })), { maxKeys: 3 }),
    fc.record({ $or: fc.array(tie('node'), { maxLength: 3 }) }),
    fc.record({ $and: fc.oneof(fc.array(tie('node'), { maxLength: 3 }), anyJson) }),
  ),
})).node;

const whereParam = fc.oneof(
  filter.map((f) => JSON.stringify(f)),
  hostileText,
  deepFilter,
  fc.constant('{"id":'),
  fc.constant('null'),
);
const query = fc
  .record(
    {
      where: whereParam,
      orderBy: fc.oneof(fc.constantFrom('-id', 'name,-id', 'nope', '-', ',', '-createdAt', 'value'), hostileText),
      limit: fc.oneof(fc.integer({ min: -5, max: 2000 }).map(String), hostileText, fc.constant('1e400')),
      after: fc.oneof(fc.base64String({ maxLength: 40 }), hostileText, fc.constant(Buffer.from('[1,2,3]').toString('base64url'))),
      upsert: fc.constantFrom('true', 'false', 'yes', ''),
      priority: fc.constantFrom('high', 'low', 'urgent'),
      bogus: hostileText,
    },
    { requiredKeys: [] },
  )
  .map((q) => new URLSearchParams(q as Record<string, string>).toString());

const itemRow = fc.record(
  {
    id: fc.oneof(itemId, anyJson),
    name: fc.oneof(fc.string({ maxLength: 8 }), anyJson),
    score: fc.oneof(fc.double(), fc.constant(null)),
    active: fc.oneof(fc.boolean(), anyJson),
    meta: anyJson,
    createdAt: fc.oneof(
      fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.integer(),
      hostileText,
    ),
    payload: fc.oneof(fc.base64String({ maxLength: 12 }), fc.constant(null)),
    status: fc.oneof(fc.constantFrom('pending', 'done'), anyJson),
    note: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null)),
    extra: anyJson,
  },
  { requiredKeys: ['id', 'name'] },
);
const validItem = fc.record({
  id: itemId,
  name: fc.string({ minLength: 1, maxLength: 6 }),
  note: fc.oneof(fc.string({ maxLength: 5 }), fc.constant(null)),
});
const body = fc.oneof(
  itemRow,
  validItem,
  fc.array(fc.oneof(validItem, itemRow), { minLength: 0, maxLength: 5 }),
  fc.record(
    {
      to: fc.constantFrom('pending', 'running', 'done', 'failed', 'gone'),
      from: fc.constantFrom('pending', 'running'),
      token: fc.integer(),
    },
    { requiredKeys: ['to'] },
  ),
  fc.record({
    from: fc.constant('pending'),
    to: fc.constant('running'),
    limit: fc.integer({ min: -1, max: 5 }),
    leaseMs: fc.constant(3_600_000),
    owner: hostileText,
  }),
  fc.record({ id: jobId, size: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ type: hostileText, input: anyJson }),
  anyJson,
);
const rawBody = fc.oneof(
  body.map((b) => ({ text: JSON.stringify(b) ?? 'null', json: true })),
  fc
    .oneof(
      deep,
      fc.constant('{"id": 1,'),
      fc.constant('{"__proto__": {"admin": true}, "id": 3, "name": "p"}'),
      hostileText,
      fc.constant('1e999'),
      fc.constant('{"id": 12345678901234567890, "name": "big"}'),
    )
    .map((text) => ({ text, json: true })),
  fc.string({ maxLength: 40 }).map((text) => ({ text, json: false })),
);
const table = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('items', 'jobs', 'readings') },
  {
    weight: 1,
    arbitrary: fc.oneof(hostileText.map(encodeURIComponent), fc.constantFrom('sluice_tasks', 'ITEMS', '%2e%2e', '_sluice_meta')),
  },
);
const key = fc.oneof(
  itemId.map(String),
  jobId.map(encodeURIComponent),
  fc.tuple(fc.constantFrom('s1', 's2'), fc.integer({ min: 0, max: 5 })).map(keyPath),
  hostileText.map(encodeURIComponent),
  hugeNumber.map(String),
  fc.constantFrom('%', '%E0%A4%A', '..', '[1,2]', 'null'),
);
const path = fc.oneof(
  fc.tuple(table, query).map(([t, q]) => `${T}/${t}/records?${q}`),
  fc.tuple(table, key, query).map(([t, k, q]) => `${T}/${t}/records/${k}?${q}`),
  fc.tuple(table, key).map(([t, k]) => `${T}/${t}/records/${k}/transition`),
  fc.tuple(table, key).map(([t, k]) => `${T}/${t}/records/${k}/history`),
  fc.tuple(table, query).map(([t, q]) => `${T}/${t}/count?${q}`),
  table.map((t) => `${T}/${t}/claims`),
  fc.constantFrom(
    '/api/v1/tasks',
    '/api/v1/tasks/x',
    '/api/v1/tasks/x/result',
    '/api/v1/stats',
    '/api/v1/tables',
    '/healthz',
    '/readyz',
    '/openapi.json',
  ),
  hostileText.map((s) => `/${encodeURIComponent(s)}`),
);
const randomRequest = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD'),
  url: path,
  body: fc.option(rawBody, { nil: undefined }),
  auth: fc.constantFrom('right', 'right', 'right', 'none', 'wrong'),
});

const json = (value: unknown) => ({ text: JSON.stringify(value), json: true });
/** Well-formed writes on colliding keys, so the database changes and acknowledgements can be checked. */
const validWrite = fc
  .oneof(
    fc.record({
      method: fc.constant('POST'),
      url: fc.constantFrom(`${T}/items/records`, `${T}/items/records?upsert=true`),
      body: fc.oneof(validItem, fc.array(validItem, { minLength: 1, maxLength: 4 })).map(json),
    }),
    fc.record({
      method: fc.constant('PATCH'),
      url: itemId.map((id) => `${T}/items/records/${id}`),
      body: fc
        .record({ note: fc.string({ maxLength: 5 }), score: fc.double({ noNaN: true, noDefaultInfinity: true }) }, { requiredKeys: [] })
        .map(json),
    }),
    fc.record({
      method: fc.constant('DELETE'),
      url: fc.oneof(
        itemId.map((id) => `${T}/items/records/${id}`),
        jobId.map((id) => `${T}/jobs/records/${encodeURIComponent(id)}`),
      ),
      body: fc.constant(undefined),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: fc.constantFrom(`${T}/jobs/records`, `${T}/jobs/records?upsert=true`),
      body: fc.record({ id: jobId, size: fc.integer({ min: 0, max: 9 }) }).map(json),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: jobId.map((id) => `${T}/jobs/records/${encodeURIComponent(id)}/transition`),
      body: fc.record({ to: fc.constantFrom('pending', 'running', 'done', 'failed') }).map(json),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant(`${T}/jobs/claims`),
      body: fc
        .record({
          from: fc.constant('pending'),
          to: fc.constant('running'),
          limit: fc.integer({ min: 1, max: 3 }),
          leaseMs: fc.constant(3_600_000),
          owner: fc.constant('fuzz'),
        })
        .map(json),
    }),
    fc.record({
      method: fc.constant('POST'),
      url: fc.constant(`${T}/readings/records`),
      body: fc
        .record({
          sensor: fc.constantFrom('s1', 's2'),
          at: fc.integer({ min: 0, max: 5 }),
          value: fc.double({ noNaN: true, noDefaultInfinity: true }),
        })
        .map(json),
    }),
    fc.record({
      method: fc.constant('DELETE'),
      url: fc.tuple(fc.constantFrom('s1', 's2'), fc.integer({ min: 0, max: 5 })).map((k) => `${T}/readings/records/${keyPath(k)}`),
      body: fc.constant(undefined),
    }),
  )
  .chain((w) => fc.constantFrom('right', 'right', 'right', 'wrong').map((auth) => ({ ...w, auth })));
const request = fc.oneof({ weight: 2, arbitrary: randomRequest }, { weight: 1, arbitrary: validWrite });

forEachDialect('HTTP fuzz', (t) => {
  let db: Database;
  let app: SluiceServer;
  beforeAll(async () => {
    db = await t.open({ tables: [items, readings, jobs], tasks: true, maintenance: { reapIntervalMs: 0, retentionIntervalMs: 0 } });
    await db.migrate();
    app = createServer(db, { token: TOKEN, maxRowsPerRequest: 5 });
  });
  afterAll(async () => {
    await app?.close();
  });

  it(`answers ${RUNS.toLocaleString()} generated requests without a 5xx, and every acknowledged write is in the database`, async () => {
    // The last acknowledged state of every key a 2xx write touched: the row the server returned, or gone.
    const model = new Map<
      string,
      { table: typeof items | typeof jobs | typeof readings; key: unknown; row: Record<string, unknown> | null }
    >();
    const tables = { items, jobs, readings } as const;
    const remember = (name: string, row: Record<string, unknown>) => {
      const def = tables[name as keyof typeof tables];
      if (!def || typeof row !== 'object' || row === null) return;
      const keyValue =
        def.primaryKey.length === 1 ? row[def.primaryKey[0]!.name] : Object.fromEntries(def.primaryKey.map((c) => [c.name, row[c.name]]));
      model.set(`${name}:${JSON.stringify(keyValue)}`, { table: def, key: keyValue, row });
    };
    const forgetRows = (name: string, text: string) => {
      const def = tables[name as keyof typeof tables];
      let rows: unknown;
      try {
        rows = JSON.parse(text);
      } catch {
        return;
      }
      if (!def || !Array.isArray(rows)) return;
      for (const row of rows as Record<string, unknown>[]) {
        if (typeof row !== 'object' || row === null) continue;
        const keyValue =
          def.primaryKey.length === 1 ? row[def.primaryKey[0]!.name] : Object.fromEntries(def.primaryKey.map((c) => [c.name, row[c.name]]));
        model.delete(`${name}:${JSON.stringify(keyValue)}`);
      }
    };
    const statuses = new Map<number, number>();
    const serverErrors: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> =
          r.auth === 'right' ? { ...WRITE } : r.auth === 'wrong' ? { authorization: 'Bearer definitely-wrong' } : {};
        if (r.body) headers['content-type'] = r.body.json ? 'application/json' : 'text/plain';
        const response = await app.inject({ method: r.method as 'GET', url: r.url, headers, ...(r.body ? { payload: r.body.text } : {}) });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode >= 500) serverErrors.push(`${r.method} ${r.url} -> ${response.statusCode} ${response.body.slice(0, 200)}`);
        expect(response.body).not.toMatch(/\n\s+at \S+ \(/);
        const match = /^\/api\/v1\/tables\/([^/?]+)\/(records|claims)(?:\/([^/?]+))?(\/transition)?/.exec(r.url);
        if (!match) return;
        const [, name, kind, rawKey, transition] = match as unknown as [string, string, string, string | undefined, string | undefined];
        if (response.statusCode >= 300) {
          // A refused multi-row insert may have committed some of its rows: their keys are unknown now.
          if (r.method === 'POST' && kind === 'records' && !rawKey && r.body?.json) forgetRows(name, r.body.text);
          return;
        }
        if (r.method === 'GET' || r.method === 'HEAD') return;
        const json = response.json() as Record<string, unknown>;
        if (kind === 'claims') for (const row of json.rows as Record<string, unknown>[]) remember(name, row);
        else if (r.method === 'DELETE') {
          const def = tables[name as keyof typeof tables];
          const decoded = decodeURIComponent(rawKey!);
          const keyValue =
            def.primaryKey.length === 1 ? (def.primaryKey[0]!.type === 'integer' ? Number(decoded) : decoded) : JSON.parse(decoded);
          const normal = Array.isArray(keyValue) ? Object.fromEntries(def.primaryKey.map((c, i) => [c.name, keyValue[i]])) : keyValue;
          model.set(`${name}:${JSON.stringify(normal)}`, { table: def, key: normal, row: null });
        } else if (transition) remember(name, json.row as Record<string, unknown>);
        else if (Array.isArray(json.rows)) for (const row of json.rows as Record<string, unknown>[]) remember(name, row);
        else remember(name, json);
      }),
      { numRuns: RUNS, seed: 20_26, endOnFailure: true },
    );
    expect(serverErrors).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `${T}/items/count` })).statusCode).toBe(200);
    let checked = 0;
    for (const [id, { table: def, key: keyValue, row }] of model) {
      const response = await app.inject({
        method: 'GET',
        url: `${T}/${def.name}/records/${keyPath(Array.isArray(keyValue) ? keyValue : typeof keyValue === 'object' ? def.primaryKey.map((c) => (keyValue as Record<string, unknown>)[c.name]) : keyValue)}`,
      });
      if (row === null) expect({ id, status: response.statusCode }).toEqual({ id, status: 404 });
      else expect({ id, row: response.json() }).toEqual({ id, row });
      checked++;
    }
    const twoxx = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
    console.info(`fuzz [${t.dialect}]: statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${twoxx} 2xx, ${checked} keys checked`);
    expect(checked).toBeGreaterThan(20);
  });
});

describe('fuzz generator', () => {
  it('makes requests of every shape', () => {
    const sample = fc.sample(request, { numRuns: 500, seed: 1 });
    expect(new Set(sample.map((r) => r.method)).size).toBeGreaterThanOrEqual(6);
    expect(sample.some((r) => r.body && !r.body.json)).toBe(true);
  });
});
