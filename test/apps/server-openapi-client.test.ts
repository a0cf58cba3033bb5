import { execFile } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, defineTable, open } from '../../src/index.js';
import { createServer, type SluiceServer } from '../../src/server/index.js';
import { tempDir } from '../support/databases.js';
import { TOKEN } from './server-support.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A lifecycle with leases and history, a composite key, and nullable columns (none json or blob, so PATCH takes If-Match). */
const deliveries = defineTable('deliveries', {
  columns: {
    shop: 'text',
    seq: 'integer',
    state: 'text',
    weight: 'real?',
    due: 'timestamp?',
    note: 'text?',
  },
  primaryKey: ['shop', 'seq'],
  lifecycle: {
    column: 'state',
    initial: 'queued',
    transitions: { queued: ['loading'], loading: ['shipped', 'queued'] },
    history: true,
    leases: { expireTo: 'queued' },
  },
});

interface Spec {
  paths: Record<string, Record<string, { security?: unknown }>>;
  components: Record<string, unknown>;
}

describe('the OpenAPI document as a generated client reads it', () => {
  const dir = tempDir('sluice-openapi-client-');
  let db: Database;
  let app: SluiceServer;
  let base: string;

  beforeAll(async () => {
    db = await open({ url: `sqlite:${join(dir, 'client.db')}`, tables: [deliveries], tasks: true });
    await db.migrate();
    app = createServer(db, { token: TOKEN });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });

  it('generates types with openapi-typescript that type-check a client calling every route, rows typed by column', {
    timeout: 30_000,
  }, async () => {
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as Spec;
    writeFileSync(join(dir, 'schema.d.ts'), astToString(await openapiTS(spec as never)));
    writeFileSync(join(dir, 'client.ts'), CLIENT_SOURCE);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');

    const program = ts.createProgram([join(dir, 'client.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      skipLibCheck: true,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${d.file?.fileName.split('/').pop()}:${where ? where.line + 1 : '?'} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);

    // The same client runs against the server: each call's answer is checked, and it calls every operation.
    const js = ts.transpileModule(readFileSync(join(dir, 'client.ts'), 'utf8'), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText;
    writeFileSync(join(dir, 'client.mjs'), js);
    // Its own process: the server answers from this one, so this one must not wait synchronously.
    const run = await promisify(execFile)(process.execPath, [join(dir, 'client.mjs'), base, TOKEN], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    const called = new Set(JSON.parse(run.stdout) as string[]);
    const documented = Object.entries(spec.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.filter((operation) => !called.has(operation))).toEqual([]);
    expect(documented.length).toBeGreaterThanOrEqual(20);
  });

  it('declares security only where a token is configured', async () => {
    const securedWrites = (await (await fetch(`${base}/openapi.json`)).json()) as Spec;
    const post = securedWrites.paths['/api/v1/tables/deliveries/records']!.post!;
    expect(post.security).toEqual([{ bearer: [] }]);
    expect(securedWrites.paths['/api/v1/tables/deliveries/records']!.get!.security).toBeUndefined();
    expect(securedWrites.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });

    const open = createServer(db);
    const readsClosed = createServer(db, { token: TOKEN, readToken: `${TOKEN}-read` });
    try {
      const text = (await open.inject({ url: '/openapi.json' })).body;
      expect(text).not.toContain('"security"');
      expect(text).not.toContain('securitySchemes');
      const closed = JSON.parse((await readsClosed.inject({ url: '/openapi.json' })).body) as Spec;
      expect(closed.paths['/api/v1/tables/deliveries/records']!.get!.security).toEqual([{ bearer: [] }]);
      expect(closed.paths['/healthz']!.get!.security).toBeUndefined();
    } finally {
      await open.close();
      await readsClosed.close();
    }
  });
});

/**
 * The client the test generates types for, type-checks and runs: every route through openapi-fetch,
 * with type-level proofs that rows are typed by column (they fail when a type is `unknown`).
 */
const CLIENT_SOURCE = `import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

/** True only when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function same<T extends true>(_proof: T): void {}

const [baseUrl, token] = process.argv.slice(2) as [string, string];
const called: string[] = [];
const client = createClient<paths>({ baseUrl, headers: { authorization: 'Bearer ' + token } });
client.use({
  onRequest({ request, schemaPath }) {
    called.push(request.method + ' ' + schemaPath);
    return undefined;
  },
});

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error('client check failed: ' + what);
}

const key = JSON.stringify(['north', 1]);

async function records(): Promise<void> {
  const one = await client.POST('/api/v1/tables/deliveries/records', {
    body: { shop: 'north', seq: 1, weight: 2.5, due: '2030-01-02T03:04:05.000Z' },
  });
  check(one.response.status === 201 && one.data && !('rows' in one.data), 'insert one');
  same<Equal<typeof one.data.weight, number | null>>(true);
  same<Equal<typeof one.data.due, string | null>>(true);
  same<Equal<typeof one.data.state, 'queued' | 'loading' | 'shipped'>>(true);
  check(one.data.state === 'queued' && one.data.note === null, 'insert one: defaults and nulls');

  const many = await client.POST('/api/v1/tables/deliveries/records', {
    params: { query: { upsert: true } },
    body: [
      { shop: 'north', seq: 1, weight: 3 },
      { shop: 'south', seq: 2, due: 1_900_000_000_000 },
    ],
  });
  check(many.response.status === 201 && many.data && 'rows' in many.data && many.data.rows.length === 2, 'upsert many');
  const again = await client.POST('/api/v1/tables/deliveries/records', { params: { query: { upsert: true } }, body: { shop: 'south', seq: 2 } });
  check(again.response.status === 200, 'an upsert that replaced a row answers 200');

  const page = await client.GET('/api/v1/tables/deliveries/records', { params: { query: { limit: 10, orderBy: '-seq' } } });
  check(page.data && page.data.rows.length === 2, 'page');
  const first = page.data.rows[0]!;
  same<Equal<typeof first.seq, number>>(true);
  same<Equal<typeof first.note, string | null>>(true);
  same<Equal<typeof first.due, string | null>>(true);
  same<Equal<typeof page.data.next, string | null>>(true);
  check(first.shop === 'south', 'page order');

  const count = await client.GET('/api/v1/tables/deliveries/count', { params: { query: { where: JSON.stringify({ shop: 'north' }) } } });
  check(count.data?.count === 1, 'count');

  const got = await client.GET('/api/v1/tables/deliveries/records/{key}', { params: { path: { key } } });
  check(got.data && got.data.weight === 3, 'get by composite key');
  const etag = got.response.headers.get('etag');
  check(etag, 'etag');
  const patched = await client.PATCH('/api/v1/tables/deliveries/records/{key}', {
    params: { path: { key }, header: { 'If-Match': etag } },
    body: { note: 'handle with care' },
  });
  check(patched.data?.note === 'handle with care', 'patch with If-Match');
  const stale = await client.PATCH('/api/v1/tables/deliveries/records/{key}', {
    params: { path: { key }, header: { 'If-Match': etag } },
    body: { note: 'late' },
  });
  check(stale.response.status === 412 && stale.error?.error.code === 'CONFLICT', 'stale If-Match: 412');
}

async function lifecycle(): Promise<void> {
  const claimed = await client.POST('/api/v1/tables/deliveries/claims', {
    body: { from: 'queued', to: 'loading', limit: 1, leaseMs: 60_000, owner: 'client' },
  });
  check(claimed.data && claimed.data.rows.length === 1, 'claim');
  const row = claimed.data.rows[0]!;
  same<Equal<typeof row.attempt, number>>(true);
  const path = { key: JSON.stringify([row.shop, row.seq]) };
  const moved = await client.POST('/api/v1/tables/deliveries/records/{key}/transition', {
    params: { path },
    body: { to: 'shipped', token: row.attempt },
  });
  check(moved.data, 'transition');
  same<Equal<typeof moved.data.state, 'queued' | 'loading' | 'shipped'>>(true);
  check(moved.data.applied && moved.data.state === 'shipped', 'transition applied');
  const lost = await client.POST('/api/v1/tables/deliveries/records/{key}/transition', { params: { path }, body: { to: 'shipped' } });
  check(lost.data && !lost.data.applied && lost.data.state === 'shipped', 'a transition that did not apply says the state');
  const deleted = await client.DELETE('/api/v1/tables/deliveries/records/{key}', { params: { path } });
  check(deleted.data?.deleted === true, 'delete');
}

async function tasks(): Promise<void> {
  const task = await client.POST('/api/v1/tasks', { body: { type: 'label', input: { shop: 'north' } } });
  check(task.data && task.response.status === 201, 'create task');
  const id = task.data.id;
  same<Equal<typeof id, string>>(true);
  check((await client.GET('/api/v1/tasks/{id}', { params: { path: { id } } })).data?.status === 'pending', 'task');
  check((await client.GET('/api/v1/tasks/{id}/result', { params: { path: { id } } })).response.status === 404, 'no result yet');

  // The task store is a table like any other: its records routes work on it too.
  const Q = '/api/v1/tables/sluice_tasks';
  const listed = await client.GET('/api/v1/tables/sluice_tasks/records', { params: { query: { where: JSON.stringify({ id }) } } });
  check(listed.data?.rows[0]?.type === 'label', Q + ' page');
  check((await client.GET('/api/v1/tables/sluice_tasks/count')).data?.count === 1, Q + ' count');
  check((await client.GET('/api/v1/tables/sluice_tasks/records/{key}', { params: { path: { key: id } } })).data?.id === id, Q + ' get');
  const claimed = await client.POST('/api/v1/tables/sluice_tasks/claims', {
    body: { from: 'pending', to: 'processing', limit: 1, leaseMs: 60_000, owner: 'client' },
  });
  const token = claimed.data?.rows[0]?.attempt;
  check(token !== undefined, Q + ' claim');
  const done = await client.POST('/api/v1/tables/sluice_tasks/records/{key}/transition', {
    params: { path: { key: id } },
    body: { to: 'completed', token, set: { result: { pages: 2 } } },
  });
  check(done.data?.applied && done.data.state === 'completed', Q + ' transition');
  const result = await client.GET('/api/v1/tasks/{id}/result', { params: { path: { id } } });
  check(JSON.stringify(result.data) === JSON.stringify({ status: 'completed', result: { pages: 2 } }), 'task result');
  // The worker side of the task store.
  const second = await client.POST('/api/v1/tasks', { body: { type: 'label', input: { shop: 'south' } } });
  const secondId = second.data?.id ?? '';
  const leased = await client.POST('/api/v1/tasks/claims', { body: { owner: 'client', types: ['label'], limit: 1, leaseMs: 60_000 } });
  const lease = leased.data?.tasks[0];
  check(lease?.id === secondId, 'task claim');
  const failedTask = await client.POST('/api/v1/tasks/{id}/fail', { params: { path: { id: secondId } }, body: { error: 'printer jam', token: lease?.attempt } });
  check(failedTask.data?.status === 'error' && failedTask.data.error === 'printer jam', 'task fail');
  const retried = await client.POST('/api/v1/tasks/{id}/retry', { params: { path: { id: secondId } } });
  check(retried.data?.status === 'pending', 'task retry');
  await client.POST('/api/v1/tasks/claims', { body: { owner: 'client', limit: 1 } });
  const completed = await client.POST('/api/v1/tasks/{id}/complete', { params: { path: { id: secondId } }, body: { result: { printed: true } } });
  check(completed.data?.status === 'completed', 'task complete');
  const now = Date.now();
  const raw = await client.POST('/api/v1/tables/sluice_tasks/records', {
    body: { id: 'raw', type: 'raw', fingerprint: 'raw', input: {}, createdAt: now, updatedAt: now, resultTtlMs: 0 },
  });
  check(raw.response.status === 201, Q + ' insert: ' + JSON.stringify(raw.error));
  const patched = await client.PATCH('/api/v1/tables/sluice_tasks/records/{key}', { params: { path: { key: 'raw' } }, body: { error: 'none' } });
  check(patched.data?.error === 'none', Q + ' patch');
  check((await client.DELETE('/api/v1/tables/sluice_tasks/records/{key}', { params: { path: { key: 'raw' } } })).data?.deleted, Q + ' delete');
}

async function operations(): Promise<void> {
  check((await client.GET('/healthz')).data?.ok === true, 'healthz');
  check((await client.GET('/readyz')).data?.status === 'ready', 'readyz');
  const alerts = (await client.GET('/api/v1/alerts', { params: { query: { limit: 5 } } })).data;
  check(alerts?.enabled === false && alerts.firing.length === 0, 'alerts');
  check((await client.GET('/metrics', { parseAs: 'text' })).data?.includes('sluice_'), 'metrics');
  check((await client.GET('/api/v1/stats')).response.ok, 'stats');
  check((await client.GET('/api/v1/tables')).data?.tables?.some((t) => t.name === 'deliveries'), 'tables');
  check((await client.GET('/openapi.json')).response.ok, 'openapi.json');
  const events = await client.GET('/api/v1/events', { parseAs: 'stream' });
  check(events.response.ok && events.data, 'events');
  await events.data.cancel();
}

/**
 * Never run: each call must NOT compile, which fails when a body's type is unknown. (openapi-fetch
 * infers its argument, so a misspelt name is caught on the component types themselves.)
 */
export function refusedByTheTypes(): void {
  // @ts-expect-error seq is an integer column
  void client.POST('/api/v1/tables/deliveries/records', { body: { shop: 'north', seq: 'one' } });
  // @ts-expect-error an array of rows is typed by column too
  void client.POST('/api/v1/tables/deliveries/records', { body: [{ shop: 'north', seq: 'two' }] });
  // @ts-expect-error weight is a number
  void client.PATCH('/api/v1/tables/deliveries/records/{key}', { params: { path: { key } }, body: { weight: 'heavy' } });
  // @ts-expect-error no such state
  void client.POST('/api/v1/tables/deliveries/records/{key}/transition', { params: { path: { key } }, body: { to: 'lost' } });
  // @ts-expect-error the state moves only by a transition, so a patch has no state
  const patch: components['schemas']['deliveries.patch'] = { state: 'shipped' };
  // @ts-expect-error no such column
  const row: components['schemas']['deliveries.insert'] = { shop: 'north', seq: 1, weigth: 1 };
  void patch;
  void row;
}

await records();
await lifecycle();
await tasks();
await operations();
process.stdout.write(JSON.stringify(called));
`;
