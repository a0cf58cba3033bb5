import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../../src/dialect/dialect.js';
import { classifyPostgresError, postgresTransient } from '../../../src/dialect/postgres/postgres-errors.js';
import { type Database, defineTable, open, SluiceError } from '../../../src/index.js';
import { postgresAvailable, postgresUrl, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';

const accounts = defineTable('accounts', {
  columns: { id: 'integer', email: 'text', balance: 'integer', note: 'text?' },
  primaryKey: 'id',
  unique: ['email'],
});

/** Runs SQL in the test schema and returns the error PostgreSQL raised. */
async function errorOf(schema: string, ...statements: string[]): Promise<unknown> {
  return withPostgres(async (client) => {
    await client.query(`set search_path = "${schema}"`);
    for (const statement of statements.slice(0, -1)) await client.query(statement);
    return client.query(statements[statements.length - 1] as string).then(
      () => new Error('expected the statement to fail'),
      (error: unknown) => error,
    );
  });
}

const raise = (code: string) => `do $$ begin raise exception 'raised for the test' using errcode = '${code}'; end $$`;

describe('PostgreSQL error classification', async () => {
  if (!(await postgresAvailable())) return;
  const schema = postgresSchema('errors');
  let db: Database;

  beforeAll(async () => {
    db = await schema.open({ tables: [accounts] });
    await db.migrate();
    await withPostgres(async (client) => {
      await client.query(`set search_path = "${schema.name}"`);
      await client.query('create table parent (id int primary key)');
      await client.query('create table child (id int primary key, parent int not null references parent (id), n int check (n > 0))');
    });
  });

  const cases: { state: string; statements: (s: string) => string[]; code: string; transient?: 'busy' | 'unavailable'; says: RegExp }[] = [
    {
      state: '23505',
      statements: () => ["insert into accounts values (1, 'a', 0, null)", "insert into accounts values (1, 'b', 0, null)"],
      code: 'CONSTRAINT',
      says: /use upsert/,
    },
    {
      state: '23505 (unique column)',
      statements: () => ["insert into accounts values (2, 'dup', 0, null)", "insert into accounts values (3, 'dup', 0, null)"],
      code: 'CONSTRAINT',
      says: /unique column/,
    },
    { state: '23502', statements: () => ['insert into accounts values (4, null, 0, null)'], code: 'CONSTRAINT', says: /may not be null/ },
    {
      state: '23503',
      statements: () => ['insert into child values (1, 42, 1)'],
      code: 'CONSTRAINT',
      says: /refers to one that does not exist/,
    },
    {
      state: '23514',
      statements: () => ['insert into parent values (1) on conflict do nothing', 'insert into child values (2, 1, -5)'],
      code: 'CONSTRAINT',
      says: /CHECK constraint/,
    },
    { state: 'P0001', statements: () => [raise('P0001')], code: 'CONSTRAINT', says: /trigger/ },
    { state: '42P01', statements: () => ['select * from no_such_table'], code: 'CONFIG', says: /migrate/ },
    { state: '42703', statements: () => ['select no_such_column from accounts'], code: 'CONFIG', says: /migrate/ },
    { state: '22021', statements: () => [`select convert_from('\\x00'::bytea, 'UTF8')`], code: 'VALIDATION', says: /cannot store/ },
    { state: '22003', statements: () => ['select 2147483648::int'], code: 'VALIDATION', says: /outside the range(?![\s\S]*NUL)/ },
    {
      state: '54000 (index row size)',
      statements: () => [
        "insert into accounts values (90, (select string_agg(md5(random()::text), '') from generate_series(1, 300)), 0, null)",
      ],
      code: 'VALIDATION',
      says: /btree index entry/,
    },
    { state: '40001', statements: () => [raise('40001')], code: 'BUSY', transient: 'busy', says: /lock/ },
    { state: '40P01', statements: () => [raise('40P01')], code: 'BUSY', transient: 'busy', says: /lock/ },
    { state: '55P03', statements: () => [raise('55P03')], code: 'BUSY', transient: 'busy', says: /lock/ },
    { state: '57P01', statements: () => [raise('57P01')], code: 'UNAVAILABLE', transient: 'unavailable', says: /reached/ },
    { state: '57P03', statements: () => [raise('57P03')], code: 'UNAVAILABLE', transient: 'unavailable', says: /reached/ },
    { state: '08006', statements: () => [raise('08006')], code: 'UNAVAILABLE', transient: 'unavailable', says: /reached/ },
    { state: '42601', statements: () => ['selec 1'], code: 'UNAVAILABLE', says: /failed/ },
  ];

  for (const c of cases) {
    it(`maps ${c.state} to ${c.code}${c.transient ? ` (retried as ${c.transient})` : ''}`, async () => {
      const error = await errorOf(schema.name, ...c.statements(schema.name));
      expect((error as { code?: string }).code).toBe(c.state.slice(0, 5));
      const classified = classifyPostgresError(error, 'accounts');
      expect(classified).toBeInstanceOf(SluiceError);
      expect(classified.code).toBe(c.code);
      expect(classified.table).toBe('accounts');
      expect(classified.cause).toBe(error);
      expect(classified.message).toMatch(c.says);
      expect(postgresTransient(error)?.reason).toBe(c.transient);
    });
  }

  it('maps 08P01 for more than 65,535 bound values to VALIDATION, and the connection goes on working', async () => {
    await withPostgres(async (client) => {
      const values = Array.from({ length: 70_000 }, (_, i) => i);
      const error = await client.query(`select 1 where 1 in (${values.map((i) => `$${i + 1}`).join(',')})`, values).then(
        () => new Error('expected the server to refuse the bind'),
        (e: unknown) => e,
      );
      expect((error as { code?: string }).code).toBe('08P01');
      expect(postgresTransient(error)).toBeUndefined();
      expect(classifyPostgresError(error, 'accounts')).toMatchObject({
        code: 'VALIDATION',
        message: expect.stringMatching(/65,535 values/),
      });
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    });
  });

  it('maps a refused connection to a retryable UNAVAILABLE', async () => {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 2000 });
    const error = await client.connect().then(
      () => new Error('expected no server on port 1'),
      (e: unknown) => e,
    );
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(postgresTransient(error)).toBeInstanceOf(TransientError);
    expect(postgresTransient(error)?.reason).toBe('unavailable');
    expect(classifyPostgresError(error).code).toBe('UNAVAILABLE');
  });

  it('maps a backend terminated under a live connection to a retryable UNAVAILABLE', async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    client.on('error', () => {});
    await client.connect();
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
    await withPostgres((admin) => admin.query('select pg_terminate_backend($1)', [pid]));
    const error = await client.query('select 1').then(
      () => new Error('expected the terminated connection to fail'),
      (e: unknown) => e,
    );
    await client.end().catch(() => {});
    expect(postgresTransient(error)?.reason).toBe('unavailable');
    expect(classifyPostgresError(error).code).toBe('UNAVAILABLE');
  });

  it('rejects writes with the codes callers act on, naming the table and what to do', async () => {
    const t = db.table(accounts);
    await t.insert({ id: 10, email: 'ten@example.com', balance: 1 });
    await expect(t.insert({ id: 10, email: 'other@example.com', balance: 1 })).rejects.toMatchObject({
      code: 'CONSTRAINT',
      table: 'accounts',
      message: expect.stringMatching(/use upsert/),
    });
    await expect(t.insert({ id: 11, email: 'ten@example.com', balance: 1 })).rejects.toMatchObject({ code: 'CONSTRAINT' });
    await expect(t.insert({ id: 12, email: 'nul\u0000byte', balance: 1 })).rejects.toMatchObject({ code: 'VALIDATION', table: 'accounts' });
    await expect(t.update(10, { email: 'ten@example.com', note: 'same email is fine' }, { returning: 'row' })).resolves.toMatchObject({
      note: 'same email is fine',
    });
    expect(await t.count({ id: { $gte: 10, $lt: 20 } })).toBe(1);
  });

  it('says to migrate when the table does not exist yet', async () => {
    const fresh = await postgresSchema('errors_unmigrated').open({ tables: [accounts] });
    await expect(fresh.table(accounts).insert({ id: 1, email: 'a', balance: 0 })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/migrate/),
    });
    await expect(fresh.table(accounts).get(1)).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('fails a write with BUSY when another transaction holds its row past the deadline, and nonBlocking at once', async () => {
    const t = db.table(accounts);
    await t.insert({ id: 20, email: 'locked@example.com', balance: 5 });
    const holder = new pg.Client({ connectionString: postgresUrl });
    await holder.connect();
    try {
      await holder.query(`set search_path = "${schema.name}"`);
      await holder.query('begin');
      await holder.query('select * from accounts where id = 20 for update');
      const started = performance.now();
      await expect(t.update(20, { balance: 6 }, { nonBlocking: true })).rejects.toMatchObject({ code: 'BUSY', table: 'accounts' });
      const nonBlockingMs = performance.now() - started;
      await expect(t.update(20, { balance: 7 }, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'BUSY' });
      expect(nonBlockingMs).toBeLessThan(1000);
      const waiting = t.update(20, { balance: 8 }, { timeoutMs: 10_000, returning: 'row' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await holder.query('commit');
      await expect(waiting).resolves.toMatchObject({ balance: 8 });
    } finally {
      await holder.end();
    }
    expect(db.stats().busy.retries).toBeGreaterThan(0);
  });

  it('refuses to open an unreachable server or a missing database with a clear error', async () => {
    await expect(open({ url: 'postgres://postgres@127.0.0.1:1/test', tables: [accounts] })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/127\.0\.0\.1:1/),
    });
    const url = new URL(postgresUrl);
    url.pathname = '/sluice_no_such_database';
    await expect(open({ url: url.toString(), tables: [accounts] })).rejects.toMatchObject({ code: 'CONFIG' });
  });
});
