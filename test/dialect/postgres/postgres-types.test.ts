import { beforeAll, describe, expect, it } from 'vitest';
import { type Database, defineTable } from '../../../src/index.js';
import { postgresAvailable, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';

const values = defineTable('typed_values', {
  columns: {
    id: 'integer',
    big: 'integer',
    ratio: 'real',
    flag: 'boolean',
    doc: 'json?',
    at: 'timestamp',
    bytes: 'blob?',
    label: 'text',
  },
  primaryKey: 'id',
});

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const AWKWARD_TEXT = [
  '',
  'NULL',
  'null',
  '"quoted"',
  'back\\slash',
  '{braces},commas',
  "it's",
  'tab\there\nnewline',
  'ünïcødé 🚀',
  ' padded ',
];
const DOCS: unknown[] = [
  { nested: { list: [1, 2.5, -3], yes: true, no: false, nothing: null } },
  ['array', 'at', 'top'],
  'a bare string with "quotes" and \\ backslash',
  42,
  { emoji: '🚀', quote: '"', backslash: '\\', unicode: 'ü' },
];
const DATES = [
  new Date('2026-01-02T03:04:05.678Z'),
  new Date('1969-07-20T20:17:40.001Z'),
  new Date('1900-01-01T00:00:00.000Z'),
  new Date('9999-12-31T23:59:59.999Z'),
  new Date(0),
];
const BIGS = [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, -1, 2 ** 31, -(2 ** 31) - 1];

function rowFor(id: number) {
  return {
    id,
    big: BIGS[id % BIGS.length] as number,
    ratio: [0.1, -1e300, 5e-324, 1 / 3][id % 4] as number,
    flag: id % 2 === 0,
    doc: id % 6 === 5 ? null : DOCS[id % DOCS.length],
    at: DATES[id % DATES.length] as Date,
    bytes: id % 3 === 0 ? ALL_BYTES : id % 3 === 1 ? new Uint8Array([0, 92, 34, 123, 125, 44]) : Buffer.alloc(0),
    label: AWKWARD_TEXT[id % AWKWARD_TEXT.length] as string,
  };
}

describe('PostgreSQL value round trips', async () => {
  if (!(await postgresAvailable())) return;
  const schema = postgresSchema('types');
  let db: Database;

  beforeAll(async () => {
    db = await schema.open({ tables: [values] });
    await db.migrate();
  });

  it('stores each column type in its native PostgreSQL type, text in byte-order collation', async () => {
    const { rows } = await withPostgres((c) =>
      c.query(
        `select column_name, data_type, collation_name from information_schema.columns
          where table_schema = $1 and table_name = 'typed_values' order by ordinal_position`,
        [schema.name],
      ),
    );
    expect(rows).toEqual([
      { column_name: 'id', data_type: 'bigint', collation_name: null },
      { column_name: 'big', data_type: 'bigint', collation_name: null },
      { column_name: 'ratio', data_type: 'double precision', collation_name: null },
      { column_name: 'flag', data_type: 'boolean', collation_name: null },
      { column_name: 'doc', data_type: 'jsonb', collation_name: null },
      { column_name: 'at', data_type: 'timestamp with time zone', collation_name: null },
      { column_name: 'bytes', data_type: 'bytea', collation_name: null },
      { column_name: 'label', data_type: 'text', collation_name: 'C' },
    ]);
  });

  it('reads back exactly what multi-row and single-row writes stored, for every awkward value', async () => {
    const t = db.table(values);
    // 60 rows issued at once share unnest statements (array literals); row 1000 goes alone.
    await Promise.all(Array.from({ length: 60 }, (_, id) => t.insert(rowFor(id))));
    await t.insert(rowFor(1000));
    for (const id of [...Array.from({ length: 60 }, (_, i) => i), 1000]) {
      const expected = rowFor(id);
      const read = await t.get(id);
      expect(read).toEqual({ ...expected, bytes: Buffer.from(expected.bytes) });
    }
    const found = await t.find({ where: { id: { $lt: 60 } }, orderBy: 'id' });
    expect(found.map((r) => r.label)).toEqual(Array.from({ length: 60 }, (_, id) => rowFor(id).label));
  });

  it('keeps values readable by foreign SQL: jsonb operators, timestamptz arithmetic, bigint math', async () => {
    const t = db.table(values);
    await t.upsert({
      ...rowFor(2000),
      big: Number.MAX_SAFE_INTEGER,
      doc: { kind: 'probe', n: 7 },
      at: new Date('2026-05-06T07:08:09.123Z'),
    });
    const { rows } = await withPostgres((c) =>
      c.query(
        `select doc->>'kind' as kind, (doc->>'n')::int as n, extract(epoch from at)::numeric as epoch, (big - 1)::text as big
           from "${schema.name}".typed_values where id = 2000`,
      ),
    );
    expect(rows[0]).toEqual({ kind: 'probe', n: 7, epoch: '1778051289.123000', big: String(Number.MAX_SAFE_INTEGER - 1) });
  });

  it('reads a bigint beyond 2^53 written by a foreign writer as a BigInt instead of rounding it', async () => {
    await withPostgres((c) =>
      c.query(
        `insert into "${schema.name}".typed_values (id, big, ratio, flag, at, label) values (3000, 9007199254740993, 0, true, now(), 'foreign')`,
      ),
    );
    expect((await db.table(values).get(3000))?.big).toBe(9007199254740993n);
  });

  it('orders and compares text by bytes, as SQLite does', async () => {
    const t = db.table(values);
    const labels = ['b', 'B', 'a', 'A', 'é', 'Z', '_', '0'];
    await Promise.all(labels.map((label, i) => t.insert({ ...rowFor(4000 + i), label })));
    const sorted = await t.find({ where: { id: { $gte: 4000, $lt: 4100 } }, orderBy: 'label' });
    expect(sorted.map((r) => r.label)).toEqual([...labels].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(await t.count({ id: { $gte: 4000, $lt: 4100 }, label: { $gt: 'Z' } })).toBe(4);
  });
});
