import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { type Database, defineTable, SluiceError } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

const kv = defineTable('kv', {
  columns: { k: 'integer', v: 'text', n: 'integer' },
  primaryKey: 'k',
  unique: ['v'],
});

type Row = { k: number; v: string; n: number };
type Command =
  | { op: 'insert'; row: Row }
  | { op: 'upsert'; row: Row }
  | { op: 'update'; k: number; n: number; ifN?: number }
  | { op: 'delete'; k: number };

const key = fc.integer({ min: 0, max: 12 });
// Few distinct `v` values make unique-constraint failures frequent.
const row = fc.record({ k: key, v: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), n: fc.integer({ min: 0, max: 3 }) });
const command: fc.Arbitrary<Command> = fc.oneof(
  row.map((r) => ({ op: 'insert' as const, row: r })),
  row.map((r) => ({ op: 'upsert' as const, row: r })),
  fc.record({
    op: fc.constant('update' as const),
    k: key,
    n: fc.integer({ min: 0, max: 3 }),
    ifN: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('delete' as const), k: key }),
);

/** Applies a command to the model; returns the outcome the database must report. */
function applyToModel(model: Map<number, Row>, c: Command): { ok: true; value: unknown } | { ok: false; code: string } {
  const valueTaken = (v: string, exceptKey: number) => [...model.values()].some((r) => r.v === v && r.k !== exceptKey);
  switch (c.op) {
    case 'insert':
      if (model.has(c.row.k) || valueTaken(c.row.v, Number.NaN)) return { ok: false, code: 'CONSTRAINT' };
      model.set(c.row.k, { ...c.row });
      return { ok: true, value: c.row };
    case 'upsert':
      if (valueTaken(c.row.v, c.row.k)) return { ok: false, code: 'CONSTRAINT' };
      model.set(c.row.k, { ...c.row });
      return { ok: true, value: c.row };
    case 'update': {
      const current = model.get(c.k);
      if (!current) return { ok: false, code: 'NOT_FOUND' };
      if (c.ifN !== undefined && current.n !== c.ifN) return { ok: false, code: 'CONFLICT' };
      const next = { ...current, n: c.n };
      model.set(c.k, next);
      return { ok: true, value: next };
    }
    case 'delete':
      return { ok: true, value: model.delete(c.k) };
  }
}

forEachDialect('the write gate agrees with a model map', (t) => {
  let db: Database;
  beforeAll(async () => {
    db = await t.open({ tables: [kv] });
    await db.migrate();
  });

  it('random insert/upsert/update/delete sequences, all in flight at once, match the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 80 }), async (commands) => {
        const table = db.table(kv);
        for (const r of await table.find()) await table.delete(r.k);
        const model = new Map<number, Row>();
        const expected = commands.map((c) => applyToModel(model, c));
        // Submitted without awaiting: the gate batches them, and must still apply them in order.
        const settled = await Promise.allSettled(
          commands.map((c) => {
            switch (c.op) {
              case 'insert':
                return table.insert(c.row);
              case 'upsert':
                return table.upsert(c.row);
              case 'update':
                return table.update(
                  c.k,
                  { n: c.n },
                  c.ifN === undefined ? { returning: 'row' } : { where: { n: c.ifN }, returning: 'row' },
                );
              default:
                return table.delete(c.k);
            }
          }),
        );
        settled.forEach((result, i) => {
          const want = expected[i];
          if (want?.ok) {
            expect(result, `command ${i} ${JSON.stringify(commands[i])}`).toEqual({ status: 'fulfilled', value: want.value });
          } else {
            expect(result.status, `command ${i} ${JSON.stringify(commands[i])}`).toBe('rejected');
            const reason = (result as PromiseRejectedResult).reason as SluiceError;
            expect(reason).toBeInstanceOf(SluiceError);
            expect(reason.code).toBe(want?.code);
          }
        });
        const actual = (await table.find({ orderBy: 'k' })).map((r) => ({ ...r }));
        expect(actual).toEqual([...model.values()].sort((a, b) => a.k - b.k));
      }),
      { numRuns: 120 },
    );
  });
});
