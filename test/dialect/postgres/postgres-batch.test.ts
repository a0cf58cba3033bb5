import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDialect } from '../../../src/dialect/postgres/postgres-dialect.js';
import type { Outcome, WriteCommand, WriteOp } from '../../../src/dialect/write-op.js';
import { type Database, defineTable } from '../../../src/index.js';
import { RowCodec } from '../../../src/schema/row-codec.js';
import { postgresAvailable, postgresUrl, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';

const accounts = defineTable('accounts', {
  columns: { id: 'integer', email: 'text', balance: 'integer', status: { type: 'text', default: 'open' } },
  primaryKey: 'id',
  unique: ['email'],
});
const outbox = defineTable('outbox', {
  columns: { seq: 'integer', tableName: 'text', rowKey: 'json' },
  primaryKey: 'seq',
});

function settledCodes(results: PromiseSettledResult<unknown>[]): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const r of results) {
    const code = r.status === 'fulfilled' ? 'ok' : ((r.reason as { code?: string }).code ?? 'unknown');
    codes[code] = (codes[code] ?? 0) + 1;
  }
  return codes;
}

describe('PostgreSQL batches', async () => {
  if (!(await postgresAvailable())) return;
  const schema = postgresSchema('batch');
  let db: Database;

  beforeAll(async () => {
    db = await schema.open({ tables: [accounts, outbox] });
    await db.migrate();
  });

  it('commits every good row of a 1,000-row insert batch and fails only the bad ones', async () => {
    const t = db.table(accounts);
    await t.insert({ id: 500, email: 'taken@example.com', balance: 0 });
    const before = db.stats().storage.runFallbacks as number;
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => {
        const id = 1000 + i;
        if (i === 137) return t.insert({ id: 500, email: 'duplicate-key@example.com', balance: 1 });
        if (i === 444) return t.insert({ id, email: 'taken@example.com', balance: 1 });
        if (i === 901) return t.insert({ id, email: 'nul\u0000@example.com', balance: 1 });
        return t.insert({ id, email: `user${id}@example.com`, balance: i });
      }),
    );
    expect(settledCodes(results)).toEqual({ ok: 997, CONSTRAINT: 2, VALIDATION: 1 });
    expect(await t.count({ id: { $gte: 1000, $lt: 2000 } })).toBe(997);
    expect(await t.get(1001)).toMatchObject({ email: 'user1001@example.com', balance: 1 });
    expect(await t.get(1444)).toBeUndefined();
    expect((db.stats().storage.runFallbacks as number) - before).toBeGreaterThan(0);
    expect(db.stats().batches.count).toBeLessThan(100);
  });

  it('fails only the write with more bound values than PostgreSQL takes, at once, and commits the rest of its batch', async () => {
    const t = db.table(accounts);
    await Promise.all(Array.from({ length: 10 }, (_, i) => t.insert({ id: 9000 + i, email: `big${i}@example.com`, balance: 0 })));
    const manyIds = Array.from({ length: 70_000 }, (_, i) => 9000 + i);
    const started = performance.now();
    const results = await Promise.allSettled([
      t.insert({ id: 8000, email: 'before@example.com', balance: 1 }),
      t.update(9001, { balance: 5 }),
      // 70,000 $or conditions: 70,000 bound values in one statement.
      t.deleteWhere({ $or: manyIds.map((id) => ({ id })) }),
      t.update(9002, { balance: 6 }, { where: { $or: manyIds.map((id) => ({ id })) } }),
      // A 70,000-value $in is one bound value: it just works, in the same batch.
      t.update(9003, { balance: 7 }, { where: { id: { $in: manyIds } } }),
      t.insert({ id: 8001, email: 'after@example.com', balance: 1 }),
      t.delete(9004),
    ]);
    const elapsed = performance.now() - started;
    expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code))).toEqual([
      'ok',
      'ok',
      'VALIDATION',
      'VALIDATION',
      'ok',
      'ok',
      'ok',
    ]);
    expect((results[2] as PromiseRejectedResult).reason.message).toMatch(
      /deleteWhere on accounts needs 70,001 bound values.*at most 65,535/,
    );
    expect(elapsed).toBeLessThan(10_000);
    expect(await t.count({ id: { $in: [8000, 8001] } })).toBe(2);
    expect((await t.get(9003))?.balance).toBe(7);
    expect(await t.get(9004)).toBeUndefined();
    await expect(t.find({ where: { $or: manyIds.map((id) => ({ id })) } })).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await t.find({ where: { id: { $in: manyIds } } })).toHaveLength(9);
  });

  it('fails a value too large for an index entry as VALIDATION, alone in its batch', async () => {
    const t = db.table(accounts);
    const huge = `${Array.from({ length: 400 }, (_, i) => (i * 2654435761).toString(36)).join('')}@example.com`;
    const results = await Promise.allSettled([
      t.insert({ id: 7000, email: 'small1@example.com', balance: 0 }),
      t.insert({ id: 7001, email: huge, balance: 0 }),
      t.insert({ id: 7002, email: 'small2@example.com', balance: 0 }),
    ]);
    expect(settledCodes(results)).toEqual({ ok: 2, VALIDATION: 1 });
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/accounts.*btree index entry/);
    expect(await t.count({ id: { $in: [7000, 7001, 7002] } })).toBe(2);
  });

  it('keeps the commit-marker table small: settled markers are deleted in bulk by later batches', async () => {
    const t = db.table(accounts);
    const markers = () =>
      withPostgres(async (c) => Number((await c.query(`select count(*) as n from "${schema.name}"._sluice_commit_markers`)).rows[0].n));
    for (let i = 0; i < 700; i++) await t.insert({ id: 20_000 + i, email: `m${i}@example.com`, balance: 0 });
    expect(db.stats().batches.count).toBeGreaterThan(700);
    expect(await markers()).toBeLessThanOrEqual(300);
    // Markers a process left behind long ago go at the next open.
    await withPostgres((c) => c.query(`update "${schema.name}"._sluice_commit_markers set created_at = now() - interval '2 days'`));
    const again = await schema.open({ tables: [accounts, outbox] });
    await again.close();
    expect(await markers()).toBe(0);
  });

  it('makes the commit-marker table again when it was dropped, for a batch that opens with a multi-row insert and for one that does not', async () => {
    const t = db.table(accounts);
    const drop = () => withPostgres((c) => c.query(`drop table "${schema.name}"._sluice_commit_markers`));
    await drop();
    // The multi-row insert goes out right behind BEGIN, so it first runs in the aborted transaction.
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => t.insert({ id: 30_000 + i, email: `d${i}@example.com`, balance: i })),
    );
    expect(settledCodes(results)).toEqual({ ok: 50 });
    await drop();
    await t.update(30_001, { balance: -1 });
    expect(await t.count({ id: { $gte: 30_000, $lt: 30_050 } })).toBe(50);
    expect(await t.get(30_001)).toMatchObject({ balance: -1 });
  });

  it('applies a batch of upserts except the one that breaks a unique column', async () => {
    const t = db.table(accounts);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => {
        const id = 1000 + i;
        return t.upsert({ id, email: i === 50 ? 'taken@example.com' : `upserted${id}@example.com`, balance: -i });
      }),
    );
    expect(settledCodes(results)).toEqual({ ok: 199, CONSTRAINT: 1 });
    expect(await t.get(1010)).toMatchObject({ email: 'upserted1010@example.com', balance: -10 });
    expect(await t.get(1050)).toMatchObject({ email: 'user1050@example.com', balance: 50 });
  });

  it('keeps per-op outcomes of updates and deletes when one op in the middle fails', async () => {
    const t = db.table(accounts);
    const replaysBefore = db.stats().storage.replays as number;
    const ops = [
      t.update(1300, { balance: 1 }, { returning: 'row' }),
      t.update(1301, { email: 'taken@example.com' }),
      t.update(1302, { balance: 2 }, { where: { status: 'open' }, returning: 'row' }),
      t.update(1303, { balance: 3 }, { where: { status: 'closed' } }),
      t.update(999_999, { balance: 4 }),
      t.delete(1304),
      t.delete(999_998),
      t.update(1305, { balance: 5, status: 'closed' }, { returning: 'row' }),
      t.update(1306, { email: 'taken@example.com' }),
      t.delete(1307),
    ];
    const results = await Promise.allSettled(ops);
    const summary = results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code: string }).code));
    expect(summary).toEqual([
      expect.objectContaining({ id: 1300, balance: 1 }),
      'CONSTRAINT',
      expect.objectContaining({ id: 1302, balance: 2 }),
      'CONFLICT',
      'NOT_FOUND',
      true,
      false,
      expect.objectContaining({ id: 1305, balance: 5, status: 'closed' }),
      'CONSTRAINT',
      true,
    ]);
    expect(await t.get(1301)).toMatchObject({ email: 'user1301@example.com' });
    expect(await t.get(1303)).toMatchObject({ balance: 303 });
    expect(await t.get(1304)).toBeUndefined();
    expect(await t.get(1307)).toBeUndefined();
    expect(db.stats().storage.replays as number).toBeGreaterThan(replaysBefore);
  });
});

describe('PostgreSQL batches with extra writes', async () => {
  if (!(await postgresAvailable())) return;
  const schema = `spg_extra_${process.pid}_${Date.now().toString(36)}`;
  let dialect: PostgresDialect;
  const accountCodec = () => new RowCodec(accounts, dialect.adapter.codec);
  const outboxCodec = () => new RowCodec(outbox, dialect.adapter.codec);
  let seq = 0;

  function op(codec: RowCodec, command: WriteCommand): WriteOp {
    const now = performance.now();
    return { codec, command, nonBlocking: false, deadline: now + 10_000, enqueuedAt: now, epoch: 0, settle() {} };
  }

  beforeAll(async () => {
    dialect = await PostgresDialect.open({ url: postgresUrl, schema, poolSize: 2, durability: 'process-crash' });
    await dialect.migrate([accounts, outbox], 1, []);
  });
  afterAll(async () => {
    await dialect.close();
    await withPostgres((client) => client.query(`drop schema if exists "${schema}" cascade`));
  });

  const outboxFor = (changes: readonly { table: string; key: readonly unknown[] }[]) =>
    changes.map((change) => op(outboxCodec(), outboxCodec().encodeInsert({ seq: ++seq, tableName: change.table, rowKey: change.key })));

  it('commits the hook rows in the batch transaction, one per committed change', async () => {
    const codec = accountCodec();
    const ops = [
      op(codec, codec.encodeInsert({ id: 1, email: 'a@x', balance: 1 })),
      op(codec, codec.encodeInsert({ id: 1, email: 'dup@x', balance: 1 })),
      op(codec, codec.encodeInsert({ id: 2, email: 'b@x', balance: 2 })),
    ];
    const result = await dialect.executeBatch(ops, outboxFor);
    expect(result.outcomes.map((o: Outcome) => o.ok)).toEqual([true, false, true]);
    expect(result.changes.map((c) => c.key)).toEqual([[1], [2]]);
    const rows = await dialect.selectAll('select table_name as "tableName", row_key as "rowKey" from outbox order by seq', []);
    expect(rows.map((r) => [r.tableName, JSON.parse(r.rowKey as string)])).toEqual([
      ['accounts', [1]],
      ['accounts', [2]],
    ]);
  });

  it('rolls the whole batch back when a hook row fails, alone or inside a multi-row insert', async () => {
    const codec = accountCodec();
    const ops = [op(codec, codec.encodeInsert({ id: 3, email: 'c@x', balance: 3 }))];
    const hookRow = (n: number) => op(outboxCodec(), outboxCodec().encodeInsert({ seq: n, tableName: 'accounts', rowKey: [3] }));
    await expect(dialect.executeBatch(ops, () => [hookRow(1)])).rejects.toMatchObject({ code: 'CONSTRAINT' });
    await expect(dialect.executeBatch(ops, () => [hookRow(100), hookRow(1), hookRow(101)])).rejects.toMatchObject({ code: 'CONSTRAINT' });
    expect(await dialect.selectAll('select id from accounts where id = 3', [])).toEqual([]);
    expect(await dialect.selectAll('select seq from outbox where seq >= 100', [])).toEqual([]);
    const after = [op(codec, codec.encodeInsert({ id: 4, email: 'd@x', balance: 4 }))];
    expect((await dialect.executeBatch(after, undefined)).outcomes[0]?.ok).toBe(true);
  });

  it('takes its upsert SQL from one swappable clause (the seam an openGauss variant replaces)', async () => {
    const keepFirst = await PostgresDialect.open({
      url: postgresUrl,
      schema,
      poolSize: 2,
      durability: 'process-crash',
      upsert: (insert, table) => insert.onConflict((oc) => oc.columns(table.primaryKey.map((c) => c.sqlName)).doNothing()),
    });
    try {
      const codec = new RowCodec(accounts, keepFirst.adapter.codec);
      const upsert = (balance: number) => op(codec, codec.encodeInsert({ id: 50, email: 'seam@x', balance }, 'upsert'));
      await keepFirst.executeBatch([upsert(1)], undefined);
      await keepFirst.executeBatch([upsert(2)], undefined);
      await dialect.executeBatch(
        [op(accountCodec(), accountCodec().encodeInsert({ id: 51, email: 'seam2@x', balance: 1 }, 'upsert'))],
        undefined,
      );
      await dialect.executeBatch(
        [op(accountCodec(), accountCodec().encodeInsert({ id: 51, email: 'seam2@x', balance: 2 }, 'upsert'))],
        undefined,
      );
      expect(await dialect.selectAll('select id, balance from accounts where id in (50, 51) order by id', [])).toEqual([
        { id: 50, balance: 1 },
        { id: 51, balance: 2 },
      ]);
    } finally {
      await keepFirst.close();
    }
  });
});
