/** The column types a table may declare; one list feeds the runtime checks and the TS types. */
export const COLUMN_TYPES = ['text', 'integer', 'real', 'boolean', 'json', 'timestamp', 'blob'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** The value a column type holds when read back. */
export interface ColumnValueMap {
  text: string;
  integer: number;
  real: number;
  boolean: boolean;
  json: unknown;
  timestamp: Date;
  blob: Uint8Array;
}

/** What a write may pass: a timestamp also accepts epoch milliseconds. */
export interface ColumnInputMap extends Omit<ColumnValueMap, 'timestamp'> {
  timestamp: Date | number;
}

export interface ColumnOptions<T extends ColumnType = ColumnType> {
  type: T;
  /** May hold null. Default: false. */
  nullable?: boolean;
  /**
   * Used when an insert omits the column: a constant (also written into the DDL, so foreign
   * writers get it too) or a function called for each insert.
   */
  default?: ColumnInputMap[T] | null | (() => ColumnInputMap[T] | null);
}

/** `'text'` is a non-null text column, `'text?'` a nullable one; the object form adds a default. */
export type ColumnSpec = ColumnType | `${ColumnType}?` | ColumnOptions;

export type SpecType<S> = S extends `${infer T extends ColumnType}?`
  ? T
  : S extends ColumnType
    ? S
    : S extends { type: infer T extends ColumnType }
      ? T
      : never;

export type SpecNullable<S> = S extends `${ColumnType}?` ? true : S extends { nullable: true } ? true : false;
export type SpecHasDefault<S> = S extends { default: unknown } ? true : false;

export type ColumnValue<S> = ColumnValueMap[SpecType<S>] | (SpecNullable<S> extends true ? null : never);
export type ColumnInput<S> = ColumnInputMap[SpecType<S>] | (SpecNullable<S> extends true ? null : never);

/** The runtime description of one column. */
export interface ColumnDef {
  /** The name callers use. */
  readonly name: string;
  /** The name in the database: snake_case of `name`, so foreign writers need no quoting. */
  readonly sqlName: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly hasDefault: boolean;
  /** Produces the default for one insert, or undefined when there is none. */
  readonly makeDefault: (() => unknown) | undefined;
  /** A constant default that the DDL can carry for foreign writers. */
  readonly constantDefault: unknown;
}
