import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { type Database, defineTable } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';
import { referenceMatch } from '../support/reference-filter.js';

const things = defineTable('things', {
  columns: { id: 'integer', name: 'text', tag: 'text?', score: 'real?', flag: 'boolean', at: 'timestamp' },
  primaryKey: 'id',
});

// A small alphabet makes collisions (equal values, shared prefixes) common, which is where
// filters go wrong; '%', '_' and '\' exercise LIKE's wildcards and escapes.
const text = fc.string({ unit: fc.constantFrom('a', 'b', 'A', '%', '_', '\\', ' ', 'é'), maxLength: 4 });
const score = fc.option(fc.constantFrom(-1.5, 0, 0.25, 1, 2.5, 1e9), { nil: null });
const at = fc.integer({ min: 1_600_000_000_000, max: 1_600_000_000_010 }).map((ms) => new Date(ms));

const rowArb = (id: number) =>
  fc.record({ id: fc.constant(id), name: text, tag: fc.option(text, { nil: null }), score, flag: fc.boolean(), at });

const likePattern = fc
  .array(fc.constantFrom('a', 'b', 'A', '%', '_', '\\%', '\\_', '\\\\', 'é'), { maxLength: 4 })
  .map((parts) => parts.join(''));

const textCondition = fc.oneof(
  text,
  fc.record({ $eq: text }),
  fc.record({ $ne: text }),
  fc.record({ $in: fc.array(text, { maxLength: 3 }) }),
  fc.record({ $nin: fc.array(text, { maxLength: 3 }) }),
  fc.record({ $gt: text }),
  fc.record({ $lte: text }),
  fc.record({ $like: likePattern }),
);
const nullableCondition = fc.oneof(fc.constant(null), fc.record({ $null: fc.boolean() }), fc.record({ $ne: fc.constant(null) }));
const scoreCondition = fc.oneof(
  fc.record({ $gt: fc.constantFrom(-1.5, 0, 1) }),
  fc.record({ $gte: fc.constantFrom(0, 0.25, 2.5) }, { requiredKeys: ['$gte'] }),
  fc.record({ $lt: fc.constantFrom(0, 1, 1e9), $gte: fc.constantFrom(-1.5, 0) }),
  fc.record({ $ne: fc.constantFrom(0, 1) }),
  fc.record({ $in: fc.array(fc.constantFrom(-1.5, 0, 1, 7), { maxLength: 3 }) }),
  fc.record({ $nin: fc.array(fc.constantFrom(0, 1), { maxLength: 2 }) }),
  fc.constantFrom(0, 1, 2.5),
  nullableCondition,
);
const leaf = fc.oneof(
  fc.record({ name: textCondition }),
  fc.record({ tag: fc.oneof(textCondition, nullableCondition) }),
  fc.record({ score: scoreCondition }),
  fc.record({ flag: fc.oneof(fc.boolean(), fc.record({ $ne: fc.boolean() })) }),
  fc.record({ at: fc.oneof(at, fc.record({ $gt: at }), fc.record({ $lte: at.map((d) => d.getTime()) })) }),
  fc.record({
    id: fc.oneof(
      fc.record({ $in: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 4 }) }),
      fc.record({ $lt: fc.integer({ min: 0, max: 40 }) }),
    ),
  }),
);
const { filter } = fc.letrec<{ filter: Record<string, unknown> }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ $and: fc.array(tie('filter'), { maxLength: 3 }) }),
    fc.record({ $or: fc.array(tie('filter'), { maxLength: 3 }) }),
    fc.tuple(leaf, leaf).map(([a, b]) => ({ ...a, ...b })),
  ),
}));

forEachDialect('the filter DSL agrees with a reference evaluator', (t) => {
  let db: Database;
  let rows: Record<string, unknown>[];

  beforeAll(async () => {
    db = await t.open({ tables: [things] });
    await db.migrate();
    rows = fc.sample(fc.tuple(...Array.from({ length: 40 }, (_, i) => rowArb(i))), { numRuns: 1, seed: 42 })[0] as never;
    await Promise.all(rows.map((row) => db.table(things).insert(row as never)));
  });

  it('find and count return exactly the rows the reference evaluator selects', async () => {
    await fc.assert(
      fc.asyncProperty(filter, async (f) => {
        const expected = rows.filter((row) => referenceMatch(row, f)).map((row) => row.id as number);
        const found = (await db.table(things).find({ where: f as never, orderBy: 'id' })).map((row) => row.id);
        expect(found).toEqual(expected.sort((a, b) => a - b));
        expect(await db.table(things).count(f as never)).toBe(expected.length);
      }),
      { numRuns: 300, seed: Number(process.env.SLUICE_FC_SEED ?? Date.now() % 1_000_000) },
    );
  });

  it('orders text by code point on both dialects', async () => {
    const names = (await db.table(things).find({ orderBy: ['name', 'id'] })).map((row) => row.name as string);
    const expected = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(names).toEqual(expected);
  });
});
