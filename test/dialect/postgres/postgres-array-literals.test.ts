import { beforeAll, describe, expect, it } from 'vitest';
import { ArrayLiterals } from '../../../src/dialect/postgres/postgres-array-literals.js';
import { type Database, defineTable } from '../../../src/index.js';
import { postgresAvailable, withPostgres } from '../../support/services.js';
import { postgresSchema } from './support/postgres-schema.js';

describe('PostgreSQL array literals (the columns of a multi-row insert)', () => {
  it('quotes and escapes text, writes NULL bare, numbers and booleans as they print', () => {
    const literals = new ArrayLiterals(['text', 'json', 'integer', 'real', 'boolean']);
    expect(
      literals.columns([
        ['plain', '{"a":"b\\\\c"}', 1, 0.5, true],
        ['"q" \\ {x},y', 'null', -9007199254740991, -1e300, false],
        [null, undefined, 0, 5e-324, null],
      ]),
    ).toEqual([
      '{"plain","\\"q\\" \\\\ {x},y",NULL}',
      '{"{\\"a\\":\\"b\\\\\\\\c\\"}","null",NULL}',
      '{1,-9007199254740991,0}',
      '{0.5,-1e+300,5e-324}',
      '{true,false,NULL}',
    ]);
  });

  it('writes timestamps as UTC ISO 8601, BC years and five- and six-digit years included', () => {
    const literals = new ArrayLiterals(['timestamp']);
    const at = (iso: string) => new Date(iso);
    expect(
      literals.columns([
        [at('2025-01-15T08:30:00.123Z')],
        [at('2025-01-15T23:59:59.999Z')],
        [at('1969-12-31T23:59:59.999Z')],
        [new Date(Date.UTC(-4712, 0, 1))],
        [at('+010000-01-01T00:00:00.000Z')],
      ]),
    ).toEqual([
      '{2025-01-15T08:30:00.123Z,2025-01-15T23:59:59.999Z,1969-12-31T23:59:59.999Z,"4713-01-01T00:00:00.000Z BC","10000-01-01T00:00:00.000Z"}',
    ]);
  });
});

const moments = defineTable('moments', {
  columns: { id: 'integer', at: 'timestamp', bytes: 'blob?', doc: 'json?' },
  primaryKey: 'id',
});

/** JSON whose text holds every character an array literal escapes, and some it must not. */
const DOC = { text: 'q"uote \\ back\\slash \n\t\u0001 \u2028 {x},y', nested: ['"', '\\', null] };

/** Every boundary the formatter switches at, and the ends of what a timestamp column accepts. */
const MOMENTS_MS = [
  Date.UTC(-4712, 0, 1), // 4713 BC, the earliest PostgreSQL stores
  Date.UTC(-4712, 0, 1) + 1,
  -62_135_596_800_001, // the last millisecond of 1 BC
  -62_135_596_800_000, // 0001-01-01T00:00:00.000Z
  -1,
  0,
  Date.UTC(2025, 0, 15, 23, 59, 59, 999),
  253_402_300_799_999, // 9999-12-31T23:59:59.999Z
  253_402_300_800_000, // 10000-01-01
  8.64e15, // the latest Date
];

describe('PostgreSQL array literals against the server', async () => {
  if (!(await postgresAvailable())) return;
  const schema = postgresSchema('literals');
  let db: Database;

  beforeAll(async () => {
    db = await schema.open({ tables: [moments] });
    await db.migrate();
  });

  it('stores the exact millisecond of every timestamp and the exact JSON, multi-row and single-row, in any session time zone', async () => {
    const t = db.table(moments);
    // Issued at once, these share one unnest statement; id 1000 + i goes alone afterwards.
    await Promise.all(MOMENTS_MS.map((ms, i) => t.insert({ id: i, at: new Date(ms), bytes: Buffer.from([i, 92, 34, 0]), doc: DOC })));
    for (const [i, ms] of MOMENTS_MS.entries()) await t.insert({ id: 1000 + i, at: new Date(ms), bytes: null, doc: i % 2 ? DOC : null });
    const { rows } = await withPostgres(async (c) => {
      await c.query("set timezone = 'Pacific/Chatham'");
      return c.query(
        `select id, (extract(epoch from at) * 1000)::text as ms, encode(bytes, 'hex') as hex, doc = $1::jsonb as same from "${schema.name}".moments order by id`,
        [JSON.stringify(DOC)],
      );
    });
    const expected = [
      ...MOMENTS_MS.map((ms, i) => ({ id: String(i), ms: String(ms), hex: Buffer.from([i, 92, 34, 0]).toString('hex'), same: true })),
      ...MOMENTS_MS.map((ms, i) => ({ id: String(1000 + i), ms: String(ms), hex: null, same: i % 2 ? true : null })),
    ];
    expect(rows.map((r) => ({ ...r, ms: String(Number(r.ms)) }))).toEqual(expected);
  });
});
