/**
 * The seed's public functions kept as they were (db_query, db_save, db_get, with filter dicts and
 * '-time' ordering), as thin functions over Sluice: the bot's code does not change.
 */
import type { Database, Filter, TableDef } from 'sluice';
import { MODEL_MAPPING } from './models.js';

type Model = keyof typeof MODEL_MAPPING;
type Row = Record<string, unknown>;

export interface DbGetOptions {
  filters?: Row;
  limit?: number;
  order_by?: string;
  single_result?: boolean;
}

const table = (db: Database, model: Model) => db.table(MODEL_MAPPING[model] as TableDef);

/** db_get(model, filters, limit, order_by, single_result): a filter dict, '-time' for descending. */
export async function db_get(db: Database, model: Model, options: DbGetOptions = {}): Promise<Row | Row[] | undefined> {
  const rows = (await table(db, model).find({
    ...(options.filters ? { where: options.filters as Filter<Row> } : {}),
    ...(options.order_by ? { orderBy: options.order_by } : {}),
    ...(options.limit !== undefined || options.single_result ? { limit: options.single_result ? 1 : options.limit } : {}),
  })) as Row[];
  return options.single_result ? rows[0] : rows;
}

/** db_save(model, data, key_field, key_value): insert or update by a key, resolving after COMMIT. */
export async function db_save(db: Database, model: Model, data: Row, keyValue?: unknown): Promise<Row> {
  const t = table(db, model);
  if (keyValue === undefined) return (await t.upsert(data as never)) as Row;
  await t.update(keyValue as never, data as never);
  return (await t.get(keyValue as never)) as Row;
}

/** db_query(model, query_type, …): the generic entry, dispatching to the calls above. */
export async function db_query(
  db: Database,
  model: Model,
  query: {
    query_type: 'get' | 'create' | 'update' | 'delete' | 'count';
    filters?: Row;
    data?: Row;
    limit?: number;
    order_by?: string;
    single_result?: boolean;
  },
): Promise<unknown> {
  const t = table(db, model);
  switch (query.query_type) {
    case 'get':
      return db_get(db, model, query);
    case 'create':
      return t.insert(query.data as never);
    case 'update': {
      // By filter, as the seed's update did: each matching row's key, then one update each (batched by the gate).
      const rows = (await db_get(db, model, { ...(query.filters ? { filters: query.filters } : {}) })) as Row[];
      const pk = MODEL_MAPPING[model].primaryKey[0]?.name as string;
      await Promise.all(rows.map((row) => t.update(row[pk] as never, query.data as never)));
      return rows.length;
    }
    case 'delete':
      return t.deleteWhere((query.filters ?? {}) as never, query.filters ? {} : { all: true });
    case 'count':
      return t.count(query.filters as never);
  }
}
