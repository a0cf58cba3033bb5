import { expect, it } from 'vitest';
import { defineTable, SluiceError } from '../../src/index.js';
import { forEachDialect } from '../support/databases.js';

const values = defineTable('value_checks', {
  columns: { id: 'text', score: 'real?', at: 'timestamp?', doc: 'json?', label: 'text?' },
  primaryKey: 'id',
});

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** `[1, <hole>, 3]`: JSON.stringify writes the hole as null. */
function holey(): number[] {
  const array = [1];
  array[2] = 3;
  return array;
}

/** Values a database would store altered (or drop): each must be refused, naming table and column. */
const refused: [string, Record<string, unknown>, string, RegExp][] = [
  ['a lone high surrogate in a key', { id: 'id_\uD800' }, 'id', /lone UTF-16 surrogate at index 3/],
  ['a lone low surrogate in text', { id: 'ok', label: 'a\uDC00b' }, 'label', /lone UTF-16 surrogate at index 1/],
  ['a timestamp past the Date range', { id: 'ok', at: 1e20 }, 'at', /outside the range a Date can hold/],
  ['an Invalid Date', { id: 'ok', at: new Date(Number.NaN) }, 'at', /outside the range a Date can hold/],
  ['a timestamp before 4713 BC', { id: 'ok', at: new Date(Date.UTC(-5000, 0, 1)) }, 'at', /4713 BC/],
  ['NaN in JSON', { id: 'ok', doc: { a: Number.NaN } }, 'doc', /NaN at \.a/],
  ['Infinity in JSON', { id: 'ok', doc: [1, Number.POSITIVE_INFINITY] }, 'doc', /Infinity at \[1\]/],
  ['-0 in JSON', { id: 'ok', doc: { n: -0 } }, 'doc', /-0 at \.n/],
  ['a Map in JSON', { id: 'ok', doc: { m: new Map([[1, 2]]) } }, 'doc', /a Map at \.m/],
  ['a Set as JSON', { id: 'ok', doc: new Set([1]) }, 'doc', /a Set/],
  ['a Date in JSON', { id: 'ok', doc: { when: new Date() } }, 'doc', /a Date at \.when/],
  ['a class instance in JSON', { id: 'ok', doc: new Point(1, 2) }, 'doc', /a Point/],
  ['a function in JSON', { id: 'ok', doc: { f: () => 1 } }, 'doc', /a function at \.f/],
  ['a BigInt in JSON', { id: 'ok', doc: { n: 10n } }, 'doc', /a BigInt at \.n/],
  ['undefined in JSON', { id: 'ok', doc: { gone: undefined } }, 'doc', /undefined at \.gone/],
  ['a hole in a JSON array', { id: 'ok', doc: holey() }, 'doc', /hole at \[1\]/],
  ['a lone surrogate inside JSON', { id: 'ok', doc: { s: 'x\uD834' } }, 'doc', /string at \.s that holds a lone UTF-16 surrogate/],
];

forEachDialect('values that would change on the way in', (t) => {
  for (const [what, row, column, message] of refused) {
    it(`refuses ${what} with VALIDATION naming the table, column and value, writing nothing`, async () => {
      const db = await t.open({ name: 'refused', tables: [values] });
      await db.migrate();
      const error = await db
        .table(values)
        .insert(row as never)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(SluiceError);
      expect(error).toMatchObject({ code: 'VALIDATION', table: 'value_checks', column });
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(`value_checks.${column}`);
      expect(await db.table(values).count()).toBe(0);
    });
  }

  it('keeps two keys that differ only in a surrogate pair distinct, and reads back what it acknowledged', async () => {
    const db = await t.open({ name: 'kept', tables: [values] });
    await db.migrate();
    const rows = [
      {
        id: 'id_\uD83D\uDE00',
        score: -0,
        at: new Date(Date.UTC(2026, 0, 1, 12, 30, 15, 123)),
        doc: { nested: [1, 'two', { three: null }], e: 1e-300 },
      },
      { id: 'id_\uD83D\uDE01', score: 1.5, at: new Date(-62_000_000_000_000), doc: 'plain string' },
      { id: 'id_empty', score: null, at: null, doc: { '': [] }, label: '\u0001\u007f\u00e9\u4e2d' },
    ];
    const acknowledged = [];
    for (const row of rows) acknowledged.push(await db.table(values).insert(row));
    for (const written of acknowledged) {
      const read = await db.table(values).get(written.id);
      expect(read).toEqual(written);
      expect(Object.is(read?.score, -0)).toBe(false);
    }
    expect(await db.table(values).count()).toBe(3);
  });
});
