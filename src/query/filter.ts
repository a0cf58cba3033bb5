import type { ColumnDef } from '../schema/define-table.js';

type Comparable<V> = NonNullable<V> extends string | number | Date ? V : never;

/** Operators on one column. */
export interface ColumnOperators<V> {
  $eq?: V | null;
  $ne?: V | null;
  $in?: readonly NonNullable<V>[];
  $nin?: readonly NonNullable<V>[];
  $gt?: Comparable<V>;
  $gte?: Comparable<V>;
  $lt?: Comparable<V>;
  $lte?: Comparable<V>;
  /** SQL LIKE, case-sensitive on both dialects; `\` escapes `%` and `_`. */
  $like?: NonNullable<V> extends string ? string : never;
  /** true: the column is NULL; false: it is not. */
  $null?: boolean;
}

/** A filter over a row type: equality by value, operators by object, `$and` / `$or` to combine. */
export type Filter<Row> = {
  [K in keyof Row]?:
    | Row[K]
    | (Row[K] extends Date ? Date | number : never)
    | ColumnOperators<Row[K] | (Row[K] extends Date ? number : never)>;
} & {
  $and?: readonly Filter<Row>[];
  $or?: readonly Filter<Row>[];
};

export const COMPARISONS = { $eq: '=', $ne: '<>', $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;
export const OPERATORS = ['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$like', '$null'] as const;

/** A checked filter: column names resolved against the schema, values encoded for the driver. */
export type FilterNode =
  | { readonly op: 'and' | 'or'; readonly nodes: readonly FilterNode[] }
  | { readonly op: 'cmp'; readonly column: ColumnDef; readonly cmp: '=' | '<>' | '>' | '>=' | '<' | '<='; readonly value: unknown }
  | { readonly op: 'like'; readonly column: ColumnDef; readonly pattern: string }
  | { readonly op: 'in' | 'nin'; readonly column: ColumnDef; readonly values: readonly unknown[] }
  | { readonly op: 'null'; readonly column: ColumnDef; readonly isNull: boolean };
