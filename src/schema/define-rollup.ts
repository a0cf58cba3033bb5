import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { ColumnDef, ColumnSpec } from './column-types.js';
import { type AnyTableDef, defineTable, type RowType, type TableDef } from './define-table.js';

export type RollupEvery = 'minute' | 'hour' | 'day';
const EVERY_MS: Readonly<Record<RollupEvery, number>> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** A measure: `'count'`, or `{ sum | min | max: column }` of a numeric column of the source. */
export type MeasureSpec<SourceColumns extends string> =
  | 'count'
  | { readonly sum: SourceColumns }
  | { readonly min: SourceColumns }
  | { readonly max: SourceColumns };

export interface RollupOptions<Source extends AnyTableDef, G extends string, M extends Record<string, MeasureSpec<string>>> {
  /** The table summarised. */
  readonly from: Source;
  /** Its timestamp column the buckets cut. */
  readonly time: keyof RowType<Source> & string;
  /** Bucket width, in UTC. */
  readonly every: RollupEvery;
  /** Non-null columns of the source each bucket is split by. Default: none (one row per bucket). */
  readonly groupBy?: readonly G[];
  readonly measures: M;
}

/** One measure, checked: what it aggregates and the column it is stored in. */
export interface RollupMeasure {
  readonly name: string;
  readonly kind: 'count' | 'sum' | 'min' | 'max';
  /** The source column; undefined for count. */
  readonly source: ColumnDef | undefined;
  readonly column: ColumnDef;
}

/** What makes a table a rollup: maintained by triggers on its source, in the same transaction. */
export interface RollupPolicy {
  readonly source: AnyTableDef;
  readonly time: ColumnDef;
  readonly every: RollupEvery;
  /** The bucket width in ms. */
  readonly sizeMs: number;
  /** Pairs of source column and rollup column, in key order after `bucket`. */
  readonly groupBy: readonly { readonly source: ColumnDef; readonly column: ColumnDef }[];
  readonly measures: readonly RollupMeasure[];
  readonly bucket: ColumnDef;
  /** Source rows in the bucket. */
  readonly rows: ColumnDef;
}

type MeasureColumn<S> = S extends 'count' ? 'integer' : S extends { readonly sum: string } ? 'real' : 'real?';
type GroupColumns<Source extends AnyTableDef, G extends string> = {
  [K in G]: Source extends TableDef<string, infer C> ? (K extends keyof C ? C[K] : never) : never;
};
type RollupColumns<Source extends AnyTableDef, G extends string, M> = { bucket: 'timestamp'; rows: 'integer' } & GroupColumns<Source, G> & {
    [K in keyof M]: MeasureColumn<M[K]>;
  };

/**
 * A summary table kept exact at every commit: per time bucket (and group), a count and sums,
 * minimums and maximums of the source's rows. Database triggers maintain it for every writer,
 * Sluice and foreign alike, in the writing transaction; it is read like any table (`db.table`).
 * Deletes of rows past the source's retention age leave it as it was: history outlives detail.
 */
export function defineRollup<
  const Name extends string,
  Source extends AnyTableDef,
  const G extends string = never,
  const M extends Record<string, MeasureSpec<string>> = Record<string, MeasureSpec<string>>,
>(name: Name, options: RollupOptions<Source, G, M>) {
  const fail = (message: string, value?: unknown): never => {
    throw new SluiceError('CONFIG', `Rollup ${name}: ${message}`, { table: name, value });
  };
  if (options === null || typeof options !== 'object') fail(`needs { from, time, every, measures }, got ${describeValue(options)}.`);
  const source = options.from as AnyTableDef;
  if (!source || typeof source !== 'object' || !('columnsByName' in source)) fail('from must be a table from defineTable().', options.from);
  const time = source.columnsByName.get(options.time);
  if (time?.type !== 'timestamp')
    fail(`time must name a timestamp column of ${source.name}, got ${describeValue(options.time)}.`, options.time);
  const sizeMs = EVERY_MS[options.every];
  if (sizeMs === undefined) fail(`every must be minute, hour or day, got ${describeValue(options.every)}.`, options.every);
  // `rows` counts the source rows in the bucket whatever the measures are: a bucket whose last row
  // is deleted must go, as a recompute from the raw rows would not have it.
  const columns: Record<string, ColumnSpec> = { bucket: 'timestamp', rows: 'integer' };
  const groupBy = (options.groupBy ?? []).map((column) => {
    const def = source.columnsByName.get(column);
    if (!def) return fail(`groupBy names ${describeValue(column)}, not a column of ${source.name}.`, column);
    if (def.nullable) fail(`groupBy column ${column} is nullable; a bucket's key cannot hold NULL.`, column);
    if (def.type === 'json' || def.type === 'real')
      fail(`groupBy column ${column} is ${def.type}; group by text, integer, boolean, timestamp or blob columns.`, column);
    if (column === 'bucket' || column === 'rows') fail(`groupBy may not name a column "${column}": the rollup keeps its own.`, column);
    columns[column] = def.type;
    return def;
  });
  if (options.measures === null || typeof options.measures !== 'object' || Object.keys(options.measures).length === 0) {
    fail('measures must name at least one measure, e.g. { rows: "count" }.');
  }
  const planned: { name: string; kind: RollupMeasure['kind']; source: ColumnDef | undefined }[] = [];
  for (const [measure, spec] of Object.entries(options.measures)) {
    if (columns[measure] !== undefined) fail(`measure ${measure} has the name of a key column.`, measure);
    if (spec === 'count') {
      columns[measure] = 'integer';
      planned.push({ name: measure, kind: 'count', source: undefined });
      continue;
    }
    const entries = spec !== null && typeof spec === 'object' ? Object.entries(spec) : [];
    const [kind, column] = entries[0] ?? [];
    if (entries.length !== 1 || (kind !== 'sum' && kind !== 'min' && kind !== 'max')) {
      fail(`measure ${measure} must be 'count' or one of { sum | min | max: column }, got ${describeValue(spec)}.`, spec);
    }
    const def = source.columnsByName.get(column as string);
    if (def?.type !== 'integer' && def?.type !== 'real') {
      fail(`measure ${measure} aggregates ${describeValue(column)}, which must be an integer or real column of ${source.name}.`, column);
    }
    // A sum of integers stays an integer; min and max keep the source's type and are null for a bucket of nulls.
    columns[measure] = kind === 'sum' ? (def?.type as 'integer' | 'real') : `${def?.type as 'integer' | 'real'}?`;
    planned.push({ name: measure, kind: kind as RollupMeasure['kind'], source: def });
  }
  const table = defineTable(name, { columns, primaryKey: ['bucket', ...groupBy.map((g) => g.name)] as never });
  const rollup: RollupPolicy = Object.freeze({
    source,
    time: time as ColumnDef,
    every: options.every,
    sizeMs,
    groupBy: Object.freeze(groupBy.map((g) => Object.freeze({ source: g, column: table.columnsByName.get(g.name) as ColumnDef }))),
    measures: Object.freeze(planned.map((m) => Object.freeze({ ...m, column: table.columnsByName.get(m.name) as ColumnDef }))),
    bucket: table.columnsByName.get('bucket') as ColumnDef,
    rows: table.columnsByName.get('rows') as ColumnDef,
  });
  return Object.freeze({ ...table, rollup }) as unknown as TableDef<Name, RollupColumns<Source, G, M>, ['bucket', ...G[]]> & {
    readonly rollup: RollupPolicy;
  };
}

/** The rollup policy of a table, when it is one. */
export function rollupOf(table: AnyTableDef): RollupPolicy | undefined {
  return (table as { rollup?: RollupPolicy }).rollup;
}
