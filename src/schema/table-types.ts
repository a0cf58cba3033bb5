import type { ColumnInput, ColumnSpec, ColumnValue, SpecHasDefault, SpecNullable } from './column-types.js';

export type ColumnsSpec = Readonly<Record<string, ColumnSpec>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** A row as read back from the database. */
export type RowOf<C extends ColumnsSpec> = Simplify<{ -readonly [K in keyof C]: ColumnValue<C[K]> }>;

type OptionalKeys<C extends ColumnsSpec, Implied extends string> = {
  [K in keyof C]: K extends Implied ? K : SpecNullable<C[K]> extends true ? K : SpecHasDefault<C[K]> extends true ? K : never;
}[keyof C];

/** A row as an insert takes it: nullable and defaulted columns may be left out. */
export type InsertOf<C extends ColumnsSpec, Implied extends string = never> = Simplify<
  { -readonly [K in Exclude<keyof C, OptionalKeys<C, Implied>>]: ColumnInput<C[K]> } & {
    -readonly [K in OptionalKeys<C, Implied>]?: ColumnInput<C[K]>;
  }
>;

/** What an update may change. */
export type PatchOf<C extends ColumnsSpec, PK> = Simplify<{
  -readonly [K in Exclude<keyof C, KeyColumns<C, PK>>]?: ColumnInput<C[K]>;
}>;

export type PrimaryKeySpec<C extends ColumnsSpec> = (keyof C & string) | readonly (keyof C & string)[];
export type KeyColumns<C extends ColumnsSpec, PK> = PK extends readonly (infer K)[] ? K & keyof C : PK & keyof C;

/** A single primary key is passed as its value, a composite one as an object of its columns. */
export type KeyOf<C extends ColumnsSpec, PK> = PK extends readonly (infer K extends keyof C)[]
  ? Simplify<{ -readonly [P in K]: ColumnInput<C[P]> }>
  : PK extends keyof C
    ? ColumnInput<C[PK]>
    : never;
