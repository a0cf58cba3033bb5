import type { FastifyInstance } from 'fastify';
import { decodeFilter, parseKey, parseOrderBy } from '../request-parsing.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import { decodeRow } from '../table-schemas.js';
import { type KeyParams, PRIORITY, type RecordKit, type WriteQuery } from './record-kit.js';

/** Transition, history and (with leases) claims of a table with a lifecycle. */
export function registerLifecycleRoutes(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas } = kit;
  if (!def.lifecycle || !schemas.states) return;
  registerTransitionRoute(app, kit);
  // History is kept only with lifecycle.history and read by a one-column key: a route that could never answer is left out.
  if (def.lifecycle.history && def.primaryKey.length === 1) registerHistoryRoute(app, kit);
  if (def.lifecycle.leases) registerClaimRoute(app, kit);
}

function registerTransitionRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas, base, tags, keyParam, table, rowOut } = kit;
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
          200: {
            type: 'object',
            description:
              'applied: whether the row moved; state: its state now (the new one, or, when it did not apply, the one that kept it from moving); row: the row now',
            properties: { applied: { type: 'boolean' }, state: states, row: schemas.row },
            required: ['applied', 'state', 'row'],
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const key = parseKey(def, request.params.key);
      const { to, from, token, set } = request.body;
      const result = await table().transition(key, to, {
        ...kit.writeOptions(request),
        ...(from === undefined ? {} : { from }),
        ...(token === undefined ? {} : { token }),
        ...(set === undefined ? {} : { set: decodeRow(def, set) }),
        returning: 'row',
      });
      return { applied: result.applied, state: result.state, row: rowOut(result.row) };
    },
  );
}

function registerHistoryRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, base, tags, keyParam, table, read } = kit;
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
}

function registerClaimRoute(app: FastifyInstance, kit: RecordKit): void {
  const { def, schemas, base, tags, table, rowOut } = kit;
  const { maxLimit } = kit.ctx.options;
  const states = { type: 'string', enum: schemas.states };
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
        ...kit.writeOptions(request),
        from,
        to,
        limit,
        leaseMs,
        owner,
        ...(where === undefined ? {} : { where: decodeFilter(def, where) }),
        ...(orderBy === undefined ? {} : { orderBy: parseOrderBy(orderBy) }),
      });
      return { rows: rows.map(rowOut) };
    },
  );
}
