import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../../index.js';
import type { AnyTableDef } from '../../internal.js';
import type { JsonRow } from '../json-table.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import { decodeRow } from '../table-schemas.js';
import { PRIORITY, type RecordKit, refuseUnknownColumns, type WriteQuery } from './record-kit.js';

type WriteOptions = ReturnType<RecordKit['writeOptions']>;
interface Written {
  row: unknown;
  created: boolean;
}

/** Keys looked up per query when an upsert asks which rows exist: well under every dialect's parameter limit. */
const LOOKUP_CHUNK = 500;

/**
 * `POST /records`: one row or an array; with `upsert=true` a row with the same key is replaced.
 * 201 when a row was created, 200 when every row replaced one (so a client can tell).
 */
export function registerRecordInsertRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas, base, tags, rowOut } = kit;
  const { maxRowsPerRequest } = kit.ctx.options;
  const rowsOut = { type: 'object', properties: { rows: { type: 'array', items: schemas.row } }, required: ['rows'] };
  const stored = (description: string) => ({ description, anyOf: [schemas.row, rowsOut] });

  app.post<{ Querystring: WriteQuery & { upsert?: boolean }; Body: JsonRow | JsonRow[] }>(
    `${base}/records`,
    {
      config: { write: true },
      // Before the schema: an array's length and each row's names are checked in constant time per
      // row, so a megabyte of numbers is refused without validating (or reporting) each of them.
      preValidation: (request, _reply, done) => {
        try {
          checkRows(def, request.body, maxRowsPerRequest);
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      },
      schema: {
        tags,
        summary: `Insert one row or an array of rows into ${def.name} (upsert=true replaces rows with the same key)`,
        querystring: {
          type: 'object',
          properties: { upsert: { type: 'boolean', default: false }, priority: PRIORITY },
          additionalProperties: false,
        },
        body: { oneOf: [{ type: 'array', items: schemas.insert, minItems: 1, maxItems: maxRowsPerRequest }, schemas.insert] },
        response: {
          200: stored('upsert=true and every row replaced a row with the same key: the row as stored, or { rows } for an array'),
          201: stored('A row was created: the row as stored, or { rows } for an array'),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const options = kit.writeOptions(request);
      const array = Array.isArray(request.body);
      const body = request.body;
      const rows = (Array.isArray(body) ? body : [body]).map((row) => decodeRow(def, row));
      const existing = request.query.upsert ? await existingKeys(kit, rows) : undefined;
      const written = await settle(
        kit,
        rows.map((row) => writeRow(kit, row, existing, options)),
        array,
      );
      const created = written.some((w) => w.created);
      const out = written.map((w) => rowOut(w.row));
      return reply.code(created ? 201 : 200).send(array ? { rows: out } : out[0]);
    },
  );
}

function checkRows(def: AnyTableDef, body: unknown, max: number): void {
  if (!Array.isArray(body)) {
    refuseUnknownColumns(def, body, 'body');
    return;
  }
  if (body.length > max) {
    throw new SluiceError(
      'VALIDATION',
      `The body holds ${body.length} rows, more than ${max} per request (maxRowsPerRequest): send them in several requests.`,
      { table: def.name },
    );
  }
  for (let i = 0; i < body.length; i++) refuseUnknownColumns(def, body[i], `Row ${i}`);
}

/**
 * An insert, or with `existing` (the keys an upsert found) an upsert that knows whether it
 * created the row. The library's upsert does not say, so the keys are looked up first (one
 * uncached query per chunk) and an absent row is inserted: 201 is then exact, and a row another
 * writer created in between fails that insert on its key and is upserted after all. 200 can be
 * wrong only when another writer deletes the row between the lookup and the write.
 */
function writeRow(kit: RecordKit, row: JsonRow, existing: Set<string> | undefined, options: WriteOptions): Promise<Written> {
  const handle = kit.table();
  const inserted = (stored: unknown) => ({ row: stored, created: true });
  if (existing === undefined) return handle.insert(row, options).then(inserted);
  const replace = () => handle.upsert(row, options).then((stored) => ({ row: stored, created: false }));
  const key = keyText(kit.def, row);
  if (key !== undefined && existing.has(key)) return replace();
  return handle.insert(row, options).then(inserted, (error: unknown) => {
    if (key !== undefined && SluiceError.is(error, 'CONSTRAINT')) return replace();
    throw error;
  });
}

/** All rows go to the gate at once so they share a commit; each one commits or fails alone, and the first failure is reported by index. */
async function settle(kit: RecordKit, writes: Promise<Written>[], array: boolean): Promise<Written[]> {
  const settled = await Promise.allSettled(writes);
  const failed = settled.findIndex((s) => s.status === 'rejected');
  if (failed === -1) return settled.map((s) => (s as PromiseFulfilledResult<Written>).value);
  const reason = (settled[failed] as PromiseRejectedResult).reason;
  if (!array || !SluiceError.is(reason)) throw reason;
  const committed = settled.filter((s) => s.status === 'fulfilled').length;
  throw new SluiceError(
    reason.code,
    `Row ${failed} of ${settled.length} failed: ${reason.message} ${committed} of the rows were committed (each row commits or fails alone); retry only the failed ones.`,
    { table: kit.def.name, cause: reason },
  );
}

async function existingKeys(kit: RecordKit, rows: readonly JsonRow[]): Promise<Set<string>> {
  const columns = kit.def.primaryKey;
  const keyed = rows.filter((row) => keyText(kit.def, row) !== undefined);
  const found = new Set<string>();
  for (let i = 0; i < keyed.length; i += LOOKUP_CHUNK) {
    const chunk = keyed.slice(i, i + LOOKUP_CHUNK);
    const keyOf = (row: JsonRow) => Object.fromEntries(columns.map((c) => [c.name, row[c.name]]));
    // One row (the common upsert) is a plain key lookup, the cheapest statement there is.
    const where =
      chunk.length === 1
        ? keyOf(chunk[0]!)
        : columns.length === 1
          ? { [columns[0]!.name]: { $in: chunk.map((row) => row[columns[0]!.name]) } }
          : { $or: chunk.map(keyOf) };
    const rowsFound = await kit.read(kit.table().find({ where: where, limit: chunk.length, cache: false }), `Looking up ${kit.def.name}`);
    for (const row of rowsFound) found.add(keyText(kit.def, row)!);
  }
  return found;
}

/** The key of a row as text, equal for equal keys however the value was given (a Date or epoch ms); undefined when a key column is missing. */
function keyText(def: AnyTableDef, row: JsonRow): string | undefined {
  const parts: unknown[] = [];
  for (const column of def.primaryKey) {
    const value = row[column.name];
    if (value === undefined || value === null) return undefined;
    if (value instanceof Date) parts.push(value.getTime());
    else if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('hex'));
    else parts.push(value);
  }
  return JSON.stringify(parts);
}
