import type { CountOptions, FindOptions, Page, PageOptions } from '../api/table-options.js';
import { cacheKey, queryKey } from '../cache/cache-key.js';
import type { TableCache } from '../cache/table-cache.js';
import { checkOptionKeys } from '../core/options.js';
import { describeValue, SluiceError } from '../core/sluice-error.js';
import type { Dialect } from '../dialect/dialect.js';
import { cursorFilter, encodeCursor, requireNonNullOrder } from '../query/cursor.js';
import type { Filter, FilterNode } from '../query/filter.js';
import { parseFilter } from '../query/filter-parser.js';
import { type OrderTerm, parseOrder } from '../query/order.js';
import type { TableStatements } from '../query/table-statements.js';
import type { AnyTableDef } from '../schema/define-table.js';
import type { JsRow, RowCodec } from '../schema/row-codec.js';

/** Told of reads that took longer than `slowMs` (the metrics layer counts and logs them). */
export interface ReadObserver {
  readonly slowMs: number;
  slow(table: string, kind: string, ms: number): void;
}

const FIND_OPTION_NAMES = ['where', 'orderBy', 'limit', 'offset', 'cache'];
const PAGE_OPTION_NAMES = ['where', 'orderBy', 'limit', 'after'];
const COUNT_OPTION_NAMES = ['cache'];

/**
 * A table's query reads (find, page, count, warm): parsed filters and orders, compiled by the
 * table's statements, run on the reader, cached when the table's policy or the call asks.
 */
export class TableQueries {
  readonly table: AnyTableDef;
  readonly #codec: RowCodec;
  readonly #dialect: Dialect;
  readonly #statements: TableStatements;
  readonly #requireOpen: () => void;
  readonly #cache: TableCache | undefined;
  readonly #reads: ReadObserver | undefined;

  constructor(
    table: AnyTableDef,
    codec: RowCodec,
    dialect: Dialect,
    statements: TableStatements,
    requireOpen: () => void,
    cache: TableCache | undefined,
    reads: ReadObserver | undefined,
  ) {
    this.table = table;
    this.#codec = codec;
    this.#dialect = dialect;
    this.#statements = statements;
    this.#requireOpen = requireOpen;
    this.#cache = cache;
    this.#reads = reads;
  }

  async find(options: FindOptions<JsRow> = {}): Promise<JsRow[]> {
    this.#requireOpen();
    checkOptionKeys('find', this.table.name, options, FIND_OPTION_NAMES);
    const where = options.where === undefined ? undefined : parseFilter(this.#codec, options.where);
    const terms = parseOrder(this.table, options.orderBy);
    const cache = this.#queryCache('find', options.cache);
    if (!cache) return this.#select(where, terms, options.limit, options.offset);
    const key = queryKey(['find', where ?? null, terms, options.limit ?? null, options.offset ?? null]);
    const rows = await cache.query(key, () => this.#select(where, terms, options.limit, options.offset));
    return rows.slice();
  }

  /** Loads the rows one query finds into the table's cache; resolves with how many were stored. */
  async warm(options: FindOptions<JsRow> = {}): Promise<number> {
    this.#requireOpen();
    checkOptionKeys('warm', this.table.name, options, FIND_OPTION_NAMES);
    const cache = this.#queryCache('warm', true) as TableCache;
    const pk = this.table.primaryKey;
    return cache.warm(async () => {
      const rows = await this.find({ ...options, cache: false });
      return rows.map((row) => {
        const r = row;
        const key = pk.length === 1 ? r[pk[0]?.name as string] : Object.fromEntries(pk.map((c) => [c.name, r[c.name]]));
        return { key: cacheKey(this.#codec.encodeKey(key)), row: r };
      });
    });
  }

  async page(options: PageOptions<JsRow> = {}): Promise<Page<JsRow>> {
    this.#requireOpen();
    checkOptionKeys('page', this.table.name, options, PAGE_OPTION_NAMES);
    const limit = options.limit ?? 100;
    checkCount('limit', limit, this.table.name, 1);
    const terms = parseOrder(this.table, options.orderBy);
    requireNonNullOrder(this.table.name, terms);
    const nodes: FilterNode[] = [];
    if (options.where !== undefined) nodes.push(parseFilter(this.#codec, options.where));
    if (options.after) nodes.push(cursorFilter(terms, options.after, (term, value) => this.#codec.encodeValue(term.column, value)));
    const rows = await this.#select(nodes.length === 0 ? undefined : { op: 'and', nodes }, terms, limit + 1, undefined);
    const more = rows.length > limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { rows, next: more && last ? encodeCursor(terms, last) : null };
  }

  async count(where?: Filter<JsRow>, options: CountOptions = {}): Promise<number> {
    this.#requireOpen();
    checkOptionKeys('count', this.table.name, options, COUNT_OPTION_NAMES);
    const cache = this.#queryCache('count', options.cache);
    if (!cache) return this.#count(where);
    const node = where === undefined ? null : parseFilter(this.#codec, where);
    return cache.query(queryKey(['count', node]), () => this.#count(where));
  }

  async #count(where: Filter<JsRow> | undefined): Promise<number> {
    const { sql, parameters } = this.#statements.count(where === undefined ? undefined : parseFilter(this.#codec, where));
    const [row] = await this.timed('count', performance.now(), this.#dialect.selectAll(sql, parameters));
    return Number(row?.n ?? 0);
  }

  async #select(where: FilterNode | undefined, terms: readonly OrderTerm[], limit?: number, offset?: number): Promise<JsRow[]> {
    checkCount('limit', limit, this.table.name);
    checkCount('offset', offset, this.table.name);
    const { sql, parameters } = this.#statements.select(where, terms, limit, offset);
    const rows = await this.timed('find', performance.now(), this.#dialect.selectAll(sql, parameters));
    for (const row of rows) this.#codec.decodeRow(row);
    return rows;
  }

  /** Resolves as `work` does, telling the read observer when it took longer than slowMs. */
  async timed<R>(kind: string, started: number, work: Promise<R>): Promise<R> {
    try {
      return await work;
    } finally {
      const ms = performance.now() - started;
      if (this.#reads && ms > this.#reads.slowMs) this.#reads.slow(this.table.name, kind, ms);
    }
  }

  /** The cache a find or count uses: asked for per call, else the table policy's `queries`. */
  #queryCache(what: string, asked: boolean | undefined): TableCache | undefined {
    if (asked === true && !this.#cache) {
      throw new SluiceError(
        'CONFIG',
        `${what} on ${this.table.name} asked for the cache, but the table has no cache policy; add defineTable('${this.table.name}', { cache: { ttlMs, maxEntries } }).`,
        { table: this.table.name },
      );
    }
    return asked === false ? undefined : asked === true || this.#cache?.policy.queries ? this.#cache : undefined;
  }
}

export function checkCount(name: string, value: number | undefined, table: string, min = 0): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new SluiceError('VALIDATION', `${name} on ${table} must be a whole number >= ${min}, got ${describeValue(value)}.`, {
      table,
      value,
    });
  }
}
