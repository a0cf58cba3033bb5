import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Table } from '../../index.js';
import { SluiceError } from '../../index.js';
import type { AnyTableDef } from '../../internal.js';
import { withDeadline } from '../deadline.js';
import { HttpError } from '../http-errors.js';
import { decodeFilter, parseJsonParameter, parseKey, parseOrderBy } from '../request-parsing.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import { rowEtag, unchangedFilter } from '../row-etag.js';
import type { ServerContext } from '../server-context.js';
import { decodeRow, encodeRow, type TableSchemas } from '../table-schemas.js';

type AnyTable = Table<any>;
interface KeyParams {
  key: string;
}
interface WriteQuery {
  priority?: 'high' | 'normal' | 'low';
}

const PRIORITY = { type: 'string', enum: ['high', 'normal', 'low'], description: 'The write lane. Default normal.' };

/** The records routes of one table: `/api/v1/tables/{table}/…`, each schema from the table's columns. */
export function registerRecordRoutes(app: FastifyInstance, ctx: ServerContext, def: AnyTableDef, schemas: TableSchemas): void {
  const base = `/api/v1/tables/${def.name}`;
  const table = (): AnyTable => ctx.db.table(def) as AnyTable;
  const { maxLimit, maxRowsPerRequest, requestTimeoutMs } = ctx.options;
  const tags = [def.name];
  const keyParam = {
    type: 'object',
    properties: {
      key: {
        type: 'string',
        description:
          def.primaryKey.length === 1
            ? `The ${def.primaryKey[0]!.name} of the row (URL-encoded).`
            : `The key (${def.primaryKey.map((c) => c.name).join(', ')}) as a JSON array, URL-encoded.`,
      },
    },
    required: ['key'],
  };
  const writeOptions = (request: FastifyRequest<{ Querystring: WriteQuery }>) => ({
    timeoutMs: requestTimeoutMs,
    ...(request.query.priority ? { priority: request.query.priority } : {}),
  });
  const read = <T>(work: Promise<T>, what: string) => withDeadline(work, requestTimeoutMs, what);
  const rowOut = (row: unknown) => encodeRow(def, row);
  const pageSchema = {
    type: 'object',
    properties: { rows: { type: 'array', items: schemas.row }, next: { type: ['string', 'null'] } },
    required: ['rows', 'next'],
  };

  app.get<{ Querystring: { where?: string; orderBy?: string; limit?: number; after?: string } }>(
    `${base}/records`,
    {
      config: { read: true },
      schema: {
        tags,
        summary: `Page through ${def.name} (keyset paging: pass next as after)`,
        querystring: {
          type: 'object',
          properties: {
            where: { type: 'string', description: 'A filter as JSON: {"col": value, "col": {"$gt": 1}, "$or": [...]}' },
            orderBy: { type: 'string', description: 'Columns, comma-separated, - for descending: -updatedAt,path' },
            limit: { type: 'integer', minimum: 1, maximum: maxLimit, default: Math.min(100, maxLimit) },
            after: { type: 'string', maxLength: 4096, description: 'The next of the previous page.' },
          },
          additionalProperties: false,
        },
        response: { 200: pageSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { where, orderBy, limit, after } = request.query;
      const page = await read(
        table().page({
          where: decodeFilter(def, parseJsonParameter('where', where)) as never,
          orderBy: parseOrderBy(orderBy) as never,
          limit: limit ?? Math.min(100, maxLimit),
          after: after === undefined || after === '' ? null : after,
        }),
        `Paging ${def.name}`,
      );
      return { rows: page.rows.map(rowOut), next: page.next };
    },
  );

  app.get<{ Querystring: { where?: string } }>(
    `${base}/count`,
    {
      config: { read: true },
      schema: {
        tags,
        summary: `Count the rows of ${def.name} that match where`,
        querystring: { type: 'object', properties: { where: { type: 'string' } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { count: { type: 'integer' } }, required: ['count'] }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const where = decodeFilter(def, parseJsonParameter('where', request.query.where));
      return { count: await read(table().count(where as never), `Counting ${def.name}`) };
    },
  );

  app.get<{ Params: KeyParams }>(
    `${base}/records/:key`,
    {
      config: { read: true },
      schema: {
        tags,
        summary: `One row of ${def.name} by key (its ETag goes into a PATCH's If-Match)`,
        params: keyParam,
        response: { 200: schemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const key = parseKey(def, request.params.key);
      // A point read by primary key is bounded, so it skips the request deadline's timer.
      const row = await table().get(key);
      if (row === undefined) throw notFound(def, request.params.key);
      const out = rowOut(row);
      reply.header('etag', rowEtag(out));
      return out;
    },
  );

  app.post<{ Querystring: WriteQuery & { upsert?: boolean }; Body: Record<string, unknown> | Record<string, unknown>[] }>(
    `${base}/records`,
    {
      config: { write: true },
      schema: {
        tags,
        summary: `Insert one row or an array of rows into ${def.name} (upsert=true replaces rows with the same key)`,
        querystring: {
          type: 'object',
          properties: { upsert: { type: 'boolean', default: false }, priority: PRIORITY },
          additionalProperties: false,
        },
        body: {
          if: { type: 'array' },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else, not a promise
          then: { type: 'array', items: schemas.insert, minItems: 1, maxItems: maxRowsPerRequest },
          else: schemas.insert,
        },
        response: {
          201: {
            description: 'The row as stored, or { rows } for an array',
            anyOf: [schemas.row, { type: 'object', properties: { rows: { type: 'array', items: schemas.row } }, required: ['rows'] }],
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const handle = table();
      const options = writeOptions(request);
      const write = (row: Record<string, unknown>) =>
        request.query.upsert ? handle.upsert(decodeRow(def, row) as never, options) : handle.insert(decodeRow(def, row) as never, options);
      if (!Array.isArray(request.body)) {
        const row = await write(request.body);
        return reply.code(201).send(rowOut(row));
      }
      // All rows go to the gate at once so they share a commit; each one commits or fails alone.
      const settled = await Promise.allSettled(request.body.map(write));
      const failed = settled.findIndex((s) => s.status === 'rejected');
      if (failed === -1) return reply.code(201).send({ rows: settled.map((s) => rowOut((s as PromiseFulfilledResult<unknown>).value)) });
      const reason = (settled[failed] as PromiseRejectedResult).reason;
      const committed = settled.filter((s) => s.status === 'fulfilled').length;
      if (!SluiceError.is(reason)) throw reason;
      throw new SluiceError(
        reason.code,
        `Row ${failed} of ${settled.length} failed: ${reason.message} ${committed} of the rows were committed (each row commits or fails alone); retry only the failed ones.`,
        { table: def.name, cause: reason },
      );
    },
  );

  app.patch<{ Params: KeyParams; Querystring: WriteQuery & { where?: string }; Body: Record<string, unknown> }>(
    `${base}/records/:key`,
    {
      config: { write: true },
      schema: {
        tags,
        summary: `Update one row of ${def.name}; with where (or If-Match: its ETag), only if the row still matches (else 409, or 412 for a stale ETag)`,
        params: keyParam,
        querystring: {
          type: 'object',
          properties: { where: { type: 'string', description: 'Compare-and-set filter as JSON.' }, priority: PRIORITY },
          additionalProperties: false,
        },
        body: schemas.patch,
        response: { 200: schemas.row, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const key = parseKey(def, request.params.key);
      const userWhere = decodeFilter(def, parseJsonParameter('where', request.query.where));
      const ifMatch = request.headers['if-match'];
      let where = userWhere;
      if (typeof ifMatch === 'string') {
        const current = await table().get(key);
        if (current === undefined) throw notFound(def, request.params.key);
        if (ifMatch.trim() !== '*') {
          const out = rowOut(current) as Record<string, unknown>;
          if (!ifMatch.split(',').some((tag) => tag.trim() === rowEtag(out))) {
            throw new HttpError(
              412,
              'CONFLICT',
              `${def.name} ${JSON.stringify(request.params.key)} changed since that ETag was read; GET it again.`,
            );
          }
          const unchanged = unchangedFilter(def, current as Record<string, unknown>);
          where = userWhere ? { $and: [unchanged, userWhere] } : unchanged;
        }
      }
      const row = await table().update(key, decodeRow(def, request.body) as never, {
        ...writeOptions(request),
        ...(where ? { where: where as never } : {}),
        returning: 'row',
      });
      const out = rowOut(row);
      reply.header('etag', rowEtag(out));
      return out;
    },
  );

  app.delete<{ Params: KeyParams; Querystring: WriteQuery }>(
    `${base}/records/:key`,
    {
      config: { write: true },
      schema: {
        tags,
        summary: `Delete one row of ${def.name} (404 when there is none)`,
        params: keyParam,
        querystring: { type: 'object', properties: { priority: PRIORITY }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { deleted: { type: 'boolean' } }, required: ['deleted'] }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const key = parseKey(def, request.params.key);
      const deleted = await table().delete(key, writeOptions(request));
      if (!deleted) throw notFound(def, request.params.key);
      return { deleted };
    },
  );

  if (!def.lifecycle || !schemas.states) return;
  const states = { type: 'string', enum: schemas.states };

  app.post<{
    Params: KeyParams;
    Querystring: WriteQuery;
    Body: { to: string; from?: string; token?: number; set?: Record<string, unknown> };
  }>(
    `${base}/records/:key/transition`,
    {
      config: { write: true },
      schema: {
        tags,
        summary: `Move one row of ${def.name} to another state if its lifecycle allows it`,
        params: keyParam,
        querystring: { type: 'object', properties: { priority: PRIORITY }, additionalProperties: false },
        body: {
          type: 'object',
          properties: { to: states, from: states, token: { type: 'integer' }, set: schemas.patch },
          required: ['to'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { applied: { type: 'boolean' }, row: schemas.row }, required: ['applied', 'row'] },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const key = parseKey(def, request.params.key);
      const { to, from, token, set } = request.body;
      const result = await table().transition(key, to, {
        ...writeOptions(request),
        ...(from === undefined ? {} : { from }),
        ...(token === undefined ? {} : { token }),
        ...(set === undefined ? {} : { set: decodeRow(def, set) as never }),
        returning: 'row',
      });
      return { applied: result.applied, row: rowOut(result.row) };
    },
  );

  app.get<{ Params: KeyParams }>(
    `${base}/records/:key/history`,
    {
      config: { read: true },
      schema: {
        tags,
        summary: `The state changes of one row of ${def.name}, oldest first`,
        params: keyParam,
        response: {
          200: {
            type: 'object',
            properties: {
              history: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    from: { type: ['string', 'null'] },
                    to: { type: 'string' },
                    at: { type: 'string', format: 'date-time' },
                    actor: { type: ['string', 'null'] },
                  },
                  required: ['from', 'to', 'at', 'actor'],
                },
              },
            },
            required: ['history'],
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const key = parseKey(def, request.params.key);
      return { history: await read(table().history(key), `Reading the history of ${def.name}`) };
    },
  );

  if (!def.lifecycle.leases) return;
  app.post<{
    Querystring: WriteQuery;
    Body: { from: string; to: string; limit: number; leaseMs: number; owner: string; where?: Record<string, unknown>; orderBy?: string };
  }>(
    `${base}/claims`,
    {
      config: { write: true },
      schema: {
        tags,
        summary: `Take up to limit rows of ${def.name} in state from, move them to to under a lease; attempt is each row's fencing token`,
        querystring: { type: 'object', properties: { priority: PRIORITY }, additionalProperties: false },
        body: {
          type: 'object',
          properties: {
            from: states,
            to: states,
            limit: { type: 'integer', minimum: 1, maximum: Math.min(10_000, maxLimit) },
            leaseMs: { type: 'integer', minimum: 1, maximum: 7 * 24 * 3600_000 },
            owner: { type: 'string', minLength: 1, maxLength: 200 },
            where: { type: 'object' },
            orderBy: { type: 'string' },
          },
          required: ['from', 'to', 'limit', 'leaseMs', 'owner'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { rows: { type: 'array', items: schemas.row } }, required: ['rows'] },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { from, to, limit, leaseMs, owner, where, orderBy } = request.body;
      const rows = await table().claim({
        ...writeOptions(request),
        from,
        to,
        limit,
        leaseMs,
        owner,
        ...(where === undefined ? {} : { where: decodeFilter(def, where) as never }),
        ...(orderBy === undefined ? {} : { orderBy: parseOrderBy(orderBy) as never }),
      });
      return { rows: rows.map(rowOut) };
    },
  );
}

function notFound(def: AnyTableDef, key: string): HttpError {
  return new HttpError(404, 'NOT_FOUND', `${def.name} has no row with key ${JSON.stringify(key)}.`);
}
