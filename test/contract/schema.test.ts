import { describe, expect, expectTypeOf, it } from 'vitest';
import { compareVersions } from '../../src/dialect/sqlite/sqlite-connection.js';
import { defineTable, type InsertType, type KeyType, open, type RowType, SluiceError } from '../../src/index.js';
import { items, readings } from '../support/tables.js';

function configError(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('CONFIG');
    return error as SluiceError;
  }
  throw new Error('expected a CONFIG error');
}

describe('defineTable', () => {
  it('maps caller names to snake_case database names', () => {
    expect(items.columnsByName.get('createdAt')?.sqlName).toBe('created_at');
    expect(items.primaryKey.map((c) => c.name)).toEqual(['id']);
    expect(readings.primaryKey.map((c) => c.name)).toEqual(['sensor', 'at']);
  });

  it('refuses an unknown column type, with a hint', () => {
    expect(configError(() => defineTable('t', { columns: { a: 'txet' as never }, primaryKey: 'a' })).message).toMatch(
      /unknown type "txet".*did you mean "text"/,
    );
  });

  it('refuses a misspelt option, with a hint', () => {
    expect(configError(() => defineTable('t', { columns: { a: 'text' }, primaryKey: 'a', indexs: [] } as never)).message).toMatch(
      /"indexs".*did you mean "indexes"/,
    );
  });

  it('refuses keys and indexes on columns it does not have', () => {
    expect(configError(() => defineTable('t', { columns: { a: 'text' }, primaryKey: 'b' as never })).message).toMatch(
      /primaryKey names unknown column "b"/,
    );
    expect(
      configError(() => defineTable('t', { columns: { a: 'text' }, primaryKey: 'a', indexes: [['a', 'zz' as never]] })).message,
    ).toMatch(/"zz"/);
  });

  it('refuses a nullable primary key, a null default on a non-null column, and an empty table', () => {
    configError(() => defineTable('t', { columns: { a: 'text?' }, primaryKey: 'a' }));
    configError(() => defineTable('t', { columns: { a: 'text', b: { type: 'text', default: null } }, primaryKey: 'a' }));
    configError(() => defineTable('t', { columns: {}, primaryKey: [] as never }));
  });

  it('refuses hostile or reserved identifiers before they can reach SQL', () => {
    configError(() => defineTable('t; drop table x; --', { columns: { a: 'text' }, primaryKey: 'a' }));
    configError(() => defineTable('t', { columns: { 'a" text); --': 'text' }, primaryKey: 'a" text); --' as never }));
    configError(() => defineTable('_sluice_migrations', { columns: { a: 'text' }, primaryKey: 'a' }));
    configError(() => defineTable('t', { columns: { fooBar: 'text', foo_bar: 'text' }, primaryKey: 'fooBar' }));
  });

  it('derives the row, insert and key types from one definition', () => {
    type Item = RowType<typeof items>;
    expectTypeOf<Item['id']>().toEqualTypeOf<number>();
    expectTypeOf<Item['score']>().toEqualTypeOf<number | null>();
    expectTypeOf<Item['createdAt']>().toEqualTypeOf<Date>();
    expectTypeOf<Item['payload']>().toEqualTypeOf<Uint8Array | null>();
    expectTypeOf<{ id: number; name: string }>().toMatchTypeOf<InsertType<typeof items>>();
    expectTypeOf<KeyType<typeof items>>().toEqualTypeOf<number>();
    expectTypeOf<KeyType<typeof readings>>().toEqualTypeOf<{ sensor: string; at: number }>();
  });
});

describe('open() options', () => {
  it('names a misspelt option and suggests the right one', async () => {
    await expect(open({ url: ':memory:', durabilty: 'power-loss' } as never)).rejects.toThrow(
      /"durabilty" \(did you mean "durability"\?\)/,
    );
    await expect(open({ url: ':memory:', gate: { maxQeue: 5 } } as never)).rejects.toThrow(/"maxQeue" \(did you mean "maxQueue"\?\)/);
  });

  it('refuses bad values and unsupported URLs with CONFIG', async () => {
    await expect(open({ url: ':memory:', durability: 'sometimes' as never })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(open({ url: 'mysql://localhost/x' })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(open({ url: ':memory:', tables: [items, items] })).rejects.toThrow(/Two tables are named items/);
  });
});

describe('the SQLite version floor', () => {
  it('compares versions numerically, not as strings', () => {
    expect(compareVersions('3.40.1', '3.51.3')).toBeLessThan(0);
    expect(compareVersions('3.53.2', '3.51.3')).toBeGreaterThan(0);
    expect(compareVersions('3.51.10', '3.51.3')).toBeGreaterThan(0);
    expect(compareVersions('3.51.3', '3.51.3')).toBe(0);
  });
});
