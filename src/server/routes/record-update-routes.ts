import type { FastifyInstance } from 'fastify';
import { SluiceError } from '../../index.js';
import type { AnyTableDef } from '../../internal.js';
import { HttpError } from '../http-errors.js';
import { decodeFilter, parseJsonParameter, parseKey } from '../request-parsing.js';
import { ERROR_RESPONSES, ETAG_HEADER } from '../route-schemas.js';
import { unchangedFilter } from '../row-etag.js';
import { decodeRow } from '../table-schemas.js';
import { type KeyParams, PRIORITY, type RecordKit, refuseUnknownColumns, type WriteQuery } from './record-kit.js';

/** PATCH (compare-and-set by where or If-Match) and DELETE of one row. */
export function registerRecordUpdateRoutes(app: FastifyInstance, kit: RecordKit): void {
  registerPatchRoute(app, kit);
  registerDeleteRoute(app, kit);
}

function registerPatchRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas, base, tags, keyParam, table } = kit;

  app.patch<{ Params: KeyParams; Querystring: WriteQuery & { where?: string }; Body: Record<string, unknown> }>(
    `${base}/records/:key`,
    {
      config: { write: true },
      preValidation: (request, _reply, done) => {
        try {
          refuseStateInPatch(def, request.body);
          refuseUnknownColumns(def, request.body, 'body');
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      },
      schema: {
        tags,
        summary: `Update one row of ${def.name}; with where (or If-Match: its ETag), only if the row still matches (else 409, or 412 for a stale ETag)`,
        params: keyParam,
        querystring: {
          type: 'object',
          properties: { where: { type: 'string', description: 'Compare-and-set filter as JSON.' }, priority: PRIORITY },
          additionalProperties: false,
        },
        headers: {
          type: 'object',
          properties: {
            'If-Match': {
              type: 'string',
              description: 'The ETag of a GET (or *): the update applies only while the row is unchanged, else 412.',
            },
          },
        },
        body: schemas.patch,
        response: { 200: schemas.row, ...ERROR_RESPONSES },
        responseHeaders: { 200: ETAG_HEADER },
      },
    },
    async (request, reply) => {
      const key = parseKey(def, request.params.key);
      const userWhere = decodeFilter(def, parseJsonParameter('where', request.query.where));
      const ifMatch = request.headers['if-match'];
      let where = userWhere;
      if (typeof ifMatch === 'string') {
        const current = await table().get(key);
        if (current === undefined) throw kit.notFound(request.params.key);
        if (ifMatch.trim() !== '*') {
          const { etag } = kit.bodies.of(reply, current);
          if (!ifMatch.split(',').some((tag) => tag.trim() === etag)) {
            throw new HttpError(
              412,
              'CONFLICT',
              `${def.name} ${JSON.stringify(request.params.key)} changed since that ETag was read; GET it again.`,
            );
          }
          const unchanged = unchangedFilter(def, current);
          where = userWhere ? { $and: [unchanged, userWhere] } : unchanged;
        }
      }
      const row = await table().update(key, decodeRow(def, request.body), {
        ...kit.writeOptions(request),
        ...(where ? { where: where } : {}),
        returning: 'row',
      });
      return kit.bodies.send(reply, row);
    },
  );
}

function registerDeleteRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, base, tags, keyParam, table } = kit;
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
      const deleted = await table().delete(key, kit.writeOptions(request));
      if (!deleted) throw kit.notFound(request.params.key);
      return { deleted };
    },
  );
}

/**
 * A row changes state only by a transition, which checks the move, keeps the history and
 * fences a claim; a PATCH of the state column is refused before it reaches the database's
 * trigger, with the route that does it.
 */
function refuseStateInPatch(def: AnyTableDef, body: unknown): void {
  const column = def.lifecycle?.column.name;
  if (column === undefined || typeof body !== 'object' || body === null || !Object.hasOwn(body, column)) return;
  throw new SluiceError(
    'VALIDATION',
    `${def.name}.${column} is the lifecycle's state: a PATCH cannot change it. Move the row with POST /api/v1/tables/${def.name}/records/{key}/transition and { "to": <state> } (other columns can go along in "set").`,
    { table: def.name, column },
  );
}
