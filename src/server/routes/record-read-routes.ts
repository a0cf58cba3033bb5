import type { FastifyInstance } from 'fastify';
import { decodeFilter, parseJsonParameter, parseKey, parseOrderBy } from '../request-parsing.js';
import { ERROR_RESPONSES, ETAG_HEADER } from '../route-schemas.js';
import type { KeyParams, RecordKit } from './record-kit.js';

/** Page, count and one row by key. */
export function registerRecordReadRoutes(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas, base, tags, table, read, rowOut } = kit;
  const { maxLimit } = kit.ctx.options;
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
          where: decodeFilter(def, parseJsonParameter('where', where)),
          orderBy: parseOrderBy(orderBy),
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
      return { count: await read(table().count(where), `Counting ${def.name}`) };
    },
  );

  registerGetRoute(app, kit);
}

function registerGetRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas, base, tags, keyParam, table, bodies } = kit;
  app.get<{ Params: KeyParams }>(
    `${base}/records/:key`,
    {
      config: { read: true },
      schema: {
        tags,
        summary: `One row of ${def.name} by key (its ETag goes into a PATCH's If-Match)`,
        params: keyParam,
        response: { 200: schemas.row, ...ERROR_RESPONSES },
        responseHeaders: { 200: ETAG_HEADER },
      },
    },
    async (request, reply) => {
      const key = parseKey(def, request.params.key);
      // A point read by primary key is bounded, so it skips the request deadline's timer.
      const row = await table().get(key);
      if (row === undefined) throw kit.notFound(request.params.key);
      // Serialised here, once, for the ETag; fastify sends the string as it is.
      return bodies.send(reply, row);
    },
  );
}
